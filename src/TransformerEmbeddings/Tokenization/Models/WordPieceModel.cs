using System.Collections.Frozen;

namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>WordPiece</c>: greedy longest-match-first over code points, whole word as unk when a piece is missing.</summary>
internal sealed class WordPieceModel : ITokenizerModel
{
    private readonly FrozenDictionary<string, int> _vocab;
    private readonly string[] _idToToken;
    private readonly string _unkToken;
    private readonly int _unkId;
    private readonly string _prefix;
    private readonly int _maxInputCharsPerWord;
#if NET9_0_OR_GREATER
    private readonly FrozenDictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _spanLookup;
#endif

    public WordPieceModel(IReadOnlyDictionary<string, int> vocab, string unkToken, string prefix, int maxInputCharsPerWord, string source)
    {
        _vocab = vocab.ToFrozenDictionary(StringComparer.Ordinal);
        _idToToken = BuildReverse(vocab);
        _unkToken = unkToken;
        _prefix = prefix;
        _maxInputCharsPerWord = maxInputCharsPerWord;
#if NET9_0_OR_GREATER
        _spanLookup = _vocab.GetAlternateLookup<ReadOnlySpan<char>>();
#endif
        if (!_vocab.TryGetValue(unkToken, out _unkId))
            throw new TokenizerException($"{source}: the WordPiece unk_token '{unkToken}' is not in the vocabulary.");
    }

    internal static string[] BuildReverse(IReadOnlyDictionary<string, int> vocab)
    {
        var max = vocab.Count == 0 ? -1 : vocab.Values.Max();
        var r = new string[max + 1];
        foreach (var (k, v) in vocab)
            if (v >= 0)
                r[v] = k;
        return r;
    }

    public int VocabSize => _vocab.Count;

    public int LargestId => _idToToken.Length - 1;

    public int? TokenToId(string token) => _vocab.TryGetValue(token, out var id) ? id : null;

    public string? IdToToken(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;

    private bool TryGetId(ReadOnlySpan<char> candidate, out int id, out string piece)
    {
#if NET9_0_OR_GREATER
        if (_spanLookup.TryGetValue(candidate, out id))
        {
            var known = IdToToken(id);
            piece = known != null && candidate.SequenceEqual(known) ? known : candidate.ToString();
            return true;
        }

        piece = "";
        return false;
#else
        piece = candidate.ToString();
        return _vocab.TryGetValue(piece, out id);
#endif
    }

    public void Tokenize(ReadOnlySpan<NChar> word, List<ModelToken> output)
    {
        var n = word.Length;
        if (n > _maxInputCharsPerWord)
        {
            output.Add(new ModelToken(_unkId, _unkToken, 0, n));
            return;
        }

        // buf = [room for the prefix][UTF-16 text of the word]; u16[i] = index in the text of code point i.
        // The candidate for a piece after the first is "##" + text[u16[start]..u16[end]]: the prefix is written
        // just before u16[start] (over text that is already consumed), so no candidate is ever copied.
        var p = _prefix.Length;
        var bufLength = p + 2 * n;
        Span<char> buf = bufLength <= 256 ? stackalloc char[256] : new char[bufLength];
        Span<int> u16 = n < 128 ? stackalloc int[128] : new int[n + 1];
        var len = 0;
        for (var i = 0; i < n; i++)
        {
            u16[i] = len;
            var cp = word[i].Cp;
            if (cp < 0x10000)
            {
                buf[p + len++] = (char)cp;
            }
            else
            {
                new System.Text.Rune(cp).EncodeToUtf16(buf.Slice(p + len));
                len += 2;
            }
        }

        u16[n] = len;
        var first = output.Count;
        var start = 0;
        while (start < n)
        {
            if (start > 0) _prefix.AsSpan().CopyTo(buf.Slice(u16[start]));
            var end = n;
            var found = false;
            while (start < end)
            {
                var candidate = start == 0
                    ? buf.Slice(p, u16[end])
                    : buf.Slice(u16[start], p + u16[end] - u16[start]);
                if (TryGetId(candidate, out var id, out var piece))
                {
                    output.Add(new ModelToken(id, piece, start, end));
                    found = true;
                    break;
                }

                end--;
            }

            if (!found)
            {
                output.RemoveRange(first, output.Count - first);
                output.Add(new ModelToken(_unkId, _unkToken, 0, n));
                return;
            }

            start = end;
        }
    }
}

using System.Buffers;
using System.Collections.Concurrent;

namespace TransformerEmbeddings.Tokenization;

/// <summary>
/// HF <c>Unigram</c> (tokenizers 0.23 <c>encode_optimized</c>, SentencePiece's Viterbi): the best-scoring split
/// of a word into vocabulary pieces. At every char the pieces starting there are tried shortest first, and a piece
/// replaces the best path ending where it ends only with a strictly higher score. A char that starts no
/// one-char piece also gets an unknown node scored min_score - 10. Consecutive unknown nodes are fused into one
/// token; with byte_fallback a token missing from the vocabulary becomes its UTF-8 bytes as &lt;0xXX&gt; pieces (all
/// with the token's span), else <c>unk_id</c>.
/// </summary>
internal sealed class UnigramModel : ITokenizerModel
{
    private const double UnknownPenalty = 10.0;
    private const int CacheCapacity = 100_000;
    private const int MaxCachedWordLength = 64;

    private readonly string[] _pieces;
    private readonly double[] _scores;
    private readonly Dictionary<string, int> _ids;
    private readonly int? _unkId;
    private readonly bool _byteFallback;
    private readonly double _unkScore;
    private readonly int[] _byteIds = new int[256];
    private readonly string[] _byteTokens = new string[256];

    // A trie over code points: node 0 is the root; _edges maps (node, code point) to a child; _nodeId is the piece
    // id a node spells (the last one for a duplicated piece, as HF's token-to-id map keeps it) or -1.
    private readonly Dictionary<long, int> _edges = new();
    private readonly int[] _rootAscii = new int[128];
    private readonly int[] _nodeId;

    // Words seen before (HF caches them too): the word's UTF-16 text -> its tokens. Filled until CacheCapacity.
    private readonly ConcurrentDictionary<string, ModelToken[]> _cache = new(StringComparer.Ordinal);
#if NET9_0_OR_GREATER
    private readonly ConcurrentDictionary<string, ModelToken[]>.AlternateLookup<ReadOnlySpan<char>> _cacheLookup;
#endif
    private int _cacheCount;

    public UnigramModel(IReadOnlyList<(string Piece, double Score)> vocab, int? unkId, bool byteFallback, string source)
    {
        if (vocab.Count == 0 && unkId != null)
            throw new TokenizerException($"{source}: the Unigram vocabulary is empty but unk_id is {unkId}; it needs at least the unknown piece.");
        if (unkId is { } u && (u < 0 || u >= vocab.Count))
            throw new TokenizerException($"{source}: the Unigram unk_id {u} is outside the vocabulary (0..{vocab.Count - 1}).");
        _pieces = new string[vocab.Count];
        _scores = new double[vocab.Count];
        _ids = new Dictionary<string, int>(vocab.Count, StringComparer.Ordinal);
        _unkId = unkId;
        _byteFallback = byteFallback;
        var nodeIds = new List<int> { -1 };
        Array.Fill(_rootAscii, -1);
        var minScore = double.PositiveInfinity;
        for (var id = 0; id < vocab.Count; id++)
        {
            var (piece, score) = vocab[id];
            _pieces[id] = piece;
            _scores[id] = score;
            _ids[piece] = id;
            if (score < minScore) minScore = score;
            var node = 0;
            foreach (var c in NormalizedText.FromText(piece, 0, piece.Length))
            {
                var next = Child(node, c.Cp);
                if (next < 0)
                {
                    next = nodeIds.Count;
                    nodeIds.Add(-1);
                    if (node == 0 && c.Cp < 128) _rootAscii[c.Cp] = next;
                    else _edges[Key(node, c.Cp)] = next;
                }

                node = next;
            }

            if (node != 0) nodeIds[node] = id;
        }

        _nodeId = nodeIds.ToArray();
#if NET9_0_OR_GREATER
        _cacheLookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
#endif
        _unkScore = minScore - UnknownPenalty;
        for (var b = 0; b < 256; b++)
        {
            _byteTokens[b] = $"<0x{b:X2}>";
            _byteIds[b] = _ids.TryGetValue(_byteTokens[b], out var id) ? id : -1;
        }
    }

    private static long Key(int node, int cp) => ((long)node << 21) | (uint)cp;

    private int Child(int node, int cp)
    {
        if (node == 0 && cp < 128) return _rootAscii[cp];
        return _edges.TryGetValue(Key(node, cp), out var child) ? child : -1;
    }

    public int VocabSize => _pieces.Length;

    public int LargestId => _pieces.Length - 1;

    public int? TokenToId(string token) => _ids.TryGetValue(token, out var id) ? id : null;

    public string? IdToToken(int id) => id >= 0 && id < _pieces.Length ? _pieces[id] : null;

    public void Tokenize(ReadOnlySpan<NChar> word, List<ModelToken> output)
    {
        var n = word.Length;
        if (n == 0) return;
        if (n > MaxCachedWordLength)
        {
            Encode(word, output);
            return;
        }

        Span<char> text = stackalloc char[2 * MaxCachedWordLength];
        var length = 0;
        foreach (var c in word)
        {
            if (c.Cp < 0x10000) text[length++] = (char)c.Cp;
            else length += new System.Text.Rune(c.Cp).EncodeToUtf16(text[length..]);
        }

        var key = text[..length];
#if NET9_0_OR_GREATER
        if (_cacheLookup.TryGetValue(key, out var cached))
#else
        if (_cache.TryGetValue(key.ToString(), out var cached))
#endif
        {
            output.AddRange(cached);
            return;
        }

        var first = output.Count;
        Encode(word, output);
        if (Volatile.Read(ref _cacheCount) < CacheCapacity && _cache.TryAdd(key.ToString(), output.GetRange(first, output.Count - first).ToArray()))
            Interlocked.Increment(ref _cacheCount);
    }

    /// <summary>The Viterbi search of <c>encode_optimized</c> and HF's conversion of its pieces into tokens.</summary>
    private void Encode(ReadOnlySpan<NChar> word, List<ModelToken> output)
    {
        var n = word.Length;
        var scoreArray = ArrayPool<double>.Shared.Rent(n + 1);
        var startArray = ArrayPool<int>.Shared.Rent(n + 1);
        var idArray = ArrayPool<int>.Shared.Rent(n + 1);
        try
        {
            var best = scoreArray.AsSpan(0, n + 1);
            var from = startArray.AsSpan(0, n + 1);
            var ids = idArray.AsSpan(0, n + 1);
            best.Clear();
            from.Fill(-1);
            for (var start = 0; start < n; start++)
            {
                var here = best[start];
                var single = false;
                var node = 0;
                for (var end = start; end < n; end++)
                {
                    node = Child(node, word[end].Cp);
                    if (node < 0) break;
                    var id = _nodeId[node];
                    if (id < 0) continue;
                    var candidate = _scores[id] + here;
                    if (from[end + 1] < 0 || candidate > best[end + 1])
                    {
                        best[end + 1] = candidate;
                        from[end + 1] = start;
                        ids[end + 1] = id;
                    }

                    if (end == start) single = true;
                }

                if (!single)
                {
                    var candidate = _unkScore + here;
                    if (from[start + 1] < 0 || candidate > best[start + 1])
                    {
                        best[start + 1] = candidate;
                        from[start + 1] = start;
                        ids[start + 1] = _unkId ?? throw new TokenizerException(
                            $"The Unigram model has no unk_id, so the char U+{word[start].Cp:X4} that no piece covers cannot be encoded.");
                    }
                }
            }

            Emit(word, from, ids, output);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(scoreArray);
            ArrayPool<int>.Shared.Return(startArray);
            ArrayPool<int>.Shared.Return(idArray);
        }
    }

    /// <summary>Backtracks the best path; fuses consecutive unknown nodes; appends tokens in text order.</summary>
    private void Emit(ReadOnlySpan<NChar> word, ReadOnlySpan<int> from, ReadOnlySpan<int> ids, List<ModelToken> output)
    {
        var first = output.Count;
        var end = word.Length;
        var unkEnd = -1;
        while (end > 0)
        {
            var start = from[end];
            var id = ids[end];
            if (id == _unkId)
            {
                if (unkEnd < 0) unkEnd = end;
            }
            else
            {
                if (unkEnd >= 0)
                {
                    AddUnknown(word, end, unkEnd, output);
                    unkEnd = -1;
                }

                output.Add(new ModelToken(id, _pieces[id], start, end));
            }

            end = start;
        }

        if (unkEnd >= 0) AddUnknown(word, 0, unkEnd, output);
        output.Reverse(first, output.Count - first);
    }

    /// <summary>A fused unknown span (appended in reverse order, like the rest of the backtrack).</summary>
    private void AddUnknown(ReadOnlySpan<NChar> word, int start, int end, List<ModelToken> output)
    {
        var text = NormalizedText.ToText(word[start..end]);
        if (_ids.TryGetValue(text, out var known))
        {
            output.Add(new ModelToken(known, _pieces[known], start, end));
            return;
        }

        if (_byteFallback)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(text);
            var all = true;
            foreach (var b in bytes) all &= _byteIds[b] >= 0;
            if (all)
            {
                for (var i = bytes.Length - 1; i >= 0; i--) output.Add(new ModelToken(_byteIds[bytes[i]], _byteTokens[bytes[i]], start, end));
                return;
            }
        }

        output.Add(new ModelToken(_unkId!.Value, text, start, end));
    }
}

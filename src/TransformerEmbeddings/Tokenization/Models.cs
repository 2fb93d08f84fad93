using System.Collections.Concurrent;
using System.Collections.Frozen;

namespace TransformerEmbeddings.Tokenization;

/// <summary>A model token: id, string and its [Start, End) range of code points within the word.</summary>
internal readonly record struct ModelToken(int Id, string Value, int Start, int End);

/// <summary>A model stage (HF <c>Model</c>): turns one word into tokens.</summary>
internal interface ITokenizerModel
{
    void Tokenize(ReadOnlySpan<NChar> word, List<ModelToken> output);

    int? TokenToId(string token);

    string? IdToToken(int id);

    int VocabSize { get; }
}

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

/// <summary>
/// HF <c>BPE</c> over byte-level chars (the ByteLevel pre-tokenizer's byte-to-char mapping is applied here, word by
/// word): the merge loop of HF's <c>Word::merge_all</c> (lowest rank first, then leftmost).
/// </summary>
internal sealed class ByteLevelBpeModel : ITokenizerModel
{
    private const int CacheCapacity = 100_000;
    private static readonly char[] ByteToChar = BuildBytesChar();

    private readonly FrozenDictionary<string, int> _vocab;
    private readonly string[] _idToToken;
    private readonly FrozenDictionary<long, (int Rank, int NewId)> _merges;
    private readonly int[] _byteIds;
    private readonly bool _ignoreMerges;
    private readonly ConcurrentDictionary<string, (int Id, int Start, int End)[]> _cache = new(StringComparer.Ordinal);
#if NET9_0_OR_GREATER
    private readonly ConcurrentDictionary<string, (int Id, int Start, int End)[]>.AlternateLookup<ReadOnlySpan<char>> _cacheLookup;
#endif
    private int _cacheCount;

    public ByteLevelBpeModel(IReadOnlyDictionary<string, int> vocab, IReadOnlyList<(string A, string B)> merges, bool ignoreMerges, string source)
    {
        _vocab = vocab.ToFrozenDictionary(StringComparer.Ordinal);
        _idToToken = WordPieceModel.BuildReverse(vocab);
        _ignoreMerges = ignoreMerges;
#if NET9_0_OR_GREATER
        _cacheLookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
#endif
        var m = new Dictionary<long, (int, int)>(merges.Count);
        for (var rank = 0; rank < merges.Count; rank++)
        {
            var (a, b) = merges[rank];
            if (!_vocab.TryGetValue(a, out var ia) || !_vocab.TryGetValue(b, out var ib) || !_vocab.TryGetValue(a + b, out var inew))
                throw new TokenizerException($"{source}: merge {rank} ('{a} {b}') uses a token missing from the vocabulary.");
            m[Key(ia, ib)] = (rank, inew);
        }

        _merges = m.ToFrozenDictionary();
        _byteIds = new int[256];
        for (var b = 0; b < 256; b++)
            _byteIds[b] = _vocab.TryGetValue(ByteToChar[b].ToString(), out var id) ? id : -1;
    }

    public int VocabSize => _vocab.Count;

    public int? TokenToId(string token) => _vocab.TryGetValue(token, out var id) ? id : null;

    public string? IdToToken(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;

    private static long Key(int a, int b) => ((long)a << 32) | (uint)b;

    /// <summary>GPT-2's bytes_to_unicode table.</summary>
    internal static char[] BuildBytesChar()
    {
        var map = new char[256];
        var n = 0;
        for (var b = 0; b < 256; b++)
        {
            var printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)(256 + n++);
        }

        return map;
    }

    /// <summary>The byte-level char of a byte.</summary>
    internal static char CharOfByte(byte b) => ByteToChar[b];

    public void Tokenize(ReadOnlySpan<NChar> word, List<ModelToken> output)
    {
        // Byte-level string of the word; each byte char remembers which code point (of the word) it came from.
        var max = 4 * word.Length;
        Span<char> chars = max <= 256 ? stackalloc char[256] : new char[max];
        Span<int> owner = max <= 256 ? stackalloc int[256] : new int[max];
        Span<byte> utf8 = stackalloc byte[4];
        var n = 0;
        for (var i = 0; i < word.Length; i++)
        {
            var cp = word[i].Cp;
            if (cp < 0x80)
            {
                chars[n] = ByteToChar[cp];
                owner[n++] = i;
                continue;
            }

            var len = new System.Text.Rune(cp).EncodeToUtf8(utf8);
            for (var k = 0; k < len; k++)
            {
                chars[n] = ByteToChar[utf8[k]];
                owner[n++] = i;
            }
        }

        var key = chars.Slice(0, n);
#if NET9_0_OR_GREATER
        if (!_cacheLookup.TryGetValue(key, out var pieces))
#else
        var keyString = key.ToString();
        if (!_cache.TryGetValue(keyString, out var pieces))
#endif
        {
#if NET9_0_OR_GREATER
            var keyString = key.ToString();
#endif
            pieces = Merge(keyString);
            if (Volatile.Read(ref _cacheCount) < CacheCapacity && _cache.TryAdd(keyString, pieces))
                Interlocked.Increment(ref _cacheCount);
        }

        foreach (var (id, s, e) in pieces)
            output.Add(new ModelToken(id, _idToToken[id], owner[s], owner[e - 1] + 1));
    }

    private (int Id, int Start, int End)[] Merge(string word)
    {
        if (word.Length == 0) return [];
        if (_ignoreMerges && _vocab.TryGetValue(word, out var whole)) return [(whole, 0, word.Length)];

        // Symbols: id, prev, next, len (in byte chars). Chars without an id are dropped (no unk for byte-level).
        var ids = new List<int>(word.Length);
        var starts = new List<int>(word.Length);
        var lens = new List<int>(word.Length);
        for (var i = 0; i < word.Length; i++)
        {
            var b = ByteOf(word[i]);
            var id = b >= 0 ? _byteIds[b] : -1;
            if (id < 0) continue;
            ids.Add(id);
            starts.Add(i);
            lens.Add(1);
        }

        var n = ids.Count;
        var prev = new int[n];
        var next = new int[n];
        for (var i = 0; i < n; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }

        var queue = new PriorityQueue<(int Pos, int NewId), long>();
        for (var i = 0; i + 1 < n; i++)
            if (_merges.TryGetValue(Key(ids[i], ids[i + 1]), out var mm))
                queue.Enqueue((i, mm.NewId), Priority(mm.Rank, i));

        while (queue.TryDequeue(out var top, out var priority))
        {
            var pos = top.Pos;
            if (lens[pos] == 0 || next[pos] == -1) continue;
            var right = next[pos];
            if (!_merges.TryGetValue(Key(ids[pos], ids[right]), out var target) || target.NewId != top.NewId) continue;

            ids[pos] = top.NewId;
            lens[pos] += lens[right];
            next[pos] = next[right];
            lens[right] = 0;
            if (next[right] > -1 && next[right] < n) prev[next[right]] = pos;

            if (prev[pos] >= 0 && _merges.TryGetValue(Key(ids[prev[pos]], ids[pos]), out var mp))
                queue.Enqueue((prev[pos], mp.NewId), Priority(mp.Rank, prev[pos]));
            if (next[pos] >= 0 && next[pos] < n && _merges.TryGetValue(Key(ids[pos], ids[next[pos]]), out var mn))
                queue.Enqueue((pos, mn.NewId), Priority(mn.Rank, pos));
            _ = priority;
        }

        var result = new List<(int, int, int)>(n);
        for (var i = 0; i < n; i++)
        {
            if (lens[i] == 0) continue;
            result.Add((ids[i], starts[i], starts[i] + lens[i]));
        }

        return result.ToArray();
    }

    private static long Priority(int rank, int pos) => ((long)rank << 32) | (uint)pos;

    private static readonly int[] CharToByte = BuildCharToByte();

    private static int[] BuildCharToByte()
    {
        var r = new int[512];
        Array.Fill(r, -1);
        for (var b = 0; b < 256; b++) r[ByteToChar[b]] = b;
        return r;
    }

    private static int ByteOf(char c) => c < 512 ? CharToByte[c] : -1;
}

using System.Collections.Concurrent;
using System.Collections.Frozen;

namespace TransformerEmbeddings.Tokenization;

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

    public int LargestId => _idToToken.Length - 1;

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

using System.Buffers.Binary;
using System.Text.Unicode;

namespace TransformerEmbeddings.Tokenization;

/// <summary>
/// SentencePiece's <c>precompiled_charsmap</c> (the normalization rules of nmt_nfkc, nfkc_cf ... compiled into the
/// model): a Darts double-array trie over UTF-8 keys whose values index NUL-terminated replacements. Read as
/// spm_precompiled 0.1.4 reads it: [u32 trie size in bytes][trie units (u32, little endian)][replacement blob].
/// </summary>
internal sealed class PrecompiledCharsMap
{
    private readonly uint[] _units;
    private readonly byte[] _normalized;

    private PrecompiledCharsMap(uint[] units, byte[] normalized)
    {
        _units = units;
        _normalized = normalized;
    }

    /// <summary>Parses the charsmap; <paramref name="source"/> names the file in errors.</summary>
    public static PrecompiledCharsMap Parse(byte[] blob, string source)
    {
        if (blob.Length < 4)
            throw new TokenizerException($"{source}: the Precompiled normalizer's precompiled_charsmap holds {blob.Length} bytes; it needs at least 4.");
        var trieBytes = BinaryPrimitives.ReadUInt32LittleEndian(blob);
        if (trieBytes > blob.Length - 4 || trieBytes % 4 != 0 || trieBytes == 0)
            throw new TokenizerException($"{source}: the Precompiled normalizer's trie size {trieBytes} does not fit its {blob.Length}-byte precompiled_charsmap.");
        var units = new uint[trieBytes / 4];
        for (var i = 0; i < units.Length; i++) units[i] = BinaryPrimitives.ReadUInt32LittleEndian(blob.AsSpan(4 + 4 * i));
        var normalized = blob.AsSpan(4 + (int)trieBytes).ToArray();
        if (!Utf8.IsValid(normalized))
            throw new TokenizerException($"{source}: the Precompiled normalizer's replacement strings are not valid UTF-8.");
        return new PrecompiledCharsMap(units, normalized);
    }

    /// <summary>
    /// spm_precompiled's <c>transform</c>: the replacement of the SHORTEST key that prefixes <paramref name="key"/>
    /// (UTF-8; a NUL byte ends the key), as a byte range of the replacement blob; false when no key matches.
    /// </summary>
    public bool TryTransform(ReadOnlySpan<byte> key, out int start, out int length)
    {
        start = length = 0;
        var units = _units;
        uint nodePos = 0;
        var unit = units[0];
        nodePos ^= Offset(unit);
        foreach (var c in key)
        {
            if (c == 0) break;
            nodePos ^= c;
            if (nodePos >= (uint)units.Length) return false;
            unit = units[nodePos];
            if (Label(unit) != c) return false;
            nodePos ^= Offset(unit);
            if (((unit >> 8) & 1) == 1)
            {
                if (nodePos >= (uint)units.Length) return false;
                var index = (int)(units[nodePos] & 0x7FFFFFFFu);
                if (index > _normalized.Length) return false;
                var end = index;
                while (end < _normalized.Length && _normalized[end] != 0) end++;
                start = index;
                length = end - index;
                return true;
            }
        }

        return false;
    }

    /// <summary>The replacement bytes of a <see cref="TryTransform"/> result.</summary>
    public ReadOnlySpan<byte> Replacement(int start, int length) => _normalized.AsSpan(start, length);

    private static uint Offset(uint unit) => (unit >> 10) << (int)((unit & (1u << 9)) >> 6);

    private static uint Label(uint unit) => unit & ((1u << 31) | 0xFF);
}

using System.Text;

namespace TransformerEmbeddings.Tokenization;

/// <summary>
/// HF <c>Precompiled</c>: SentencePiece's charsmap normalization with HF's alignment rules. Walks the extended
/// grapheme clusters; a cluster shorter than 6 UTF-8 bytes is looked up whole (the shortest key prefixing it wins,
/// so a cluster can map through its first char alone), otherwise each char is looked up on its own. A replacement
/// of n chars by m chars yields m changes of 0, then the last m - n set to 1 (m &gt; n) or the last change of the
/// list so far lowered by n - m (m &lt; n; that may be a previous char's, or nothing at the very start).
/// </summary>
internal sealed class PrecompiledNormalizer : INormalizer
{
    private readonly PrecompiledCharsMap _map;

    // ASCII chars looked up once: -1 when the charsmap leaves the char as it is, else an index into _asciiValues.
    private readonly int[] _asciiEntry = new int[128];
    private readonly int[][] _asciiValues;

    public PrecompiledNormalizer(PrecompiledCharsMap map)
    {
        _map = map;
        var values = new List<int[]>();
        Span<byte> key = stackalloc byte[1];
        for (var c = 0; c < 128; c++)
        {
            key[0] = (byte)c;
            if (c != 0 && map.TryTransform(key, out var start, out var length))
            {
                _asciiEntry[c] = values.Count;
                values.Add(Decode(map.Replacement(start, length)));
            }
            else
            {
                _asciiEntry[c] = -1;
            }
        }

        _asciiValues = values.ToArray();
    }

    private static int[] Decode(ReadOnlySpan<byte> utf8)
    {
        var result = new List<int>(utf8.Length);
        while (!utf8.IsEmpty)
        {
            Rune.DecodeFromUtf8(utf8, out var rune, out var consumed);
            result.Add(rune.Value);
            utf8 = utf8[consumed..];
        }

        return result.ToArray();
    }

    public List<NChar> Normalize(List<NChar> chars, int originStart)
    {
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(chars);
        List<(int Cp, int Change)>? dest = null;
        Span<byte> key = stackalloc byte[8];
        var i = 0;
        while (i < span.Length)
        {
            var cp = span[i].Cp;
            // An ASCII printable followed by a char below U+0300 is a cluster of its own (see UnicodeGraphemes).
            var end = cp is >= 0x20 and < 0x7F && (i + 1 == span.Length || span[i + 1].Cp < 0x300)
                ? i + 1
                : UnicodeGraphemes.ClusterEnd(span, i);
            if (end - i > 1 && Utf8Length(span[i..end]) < 6)
            {
                var n = 0;
                for (var k = i; k < end; k++) n += new Rune(span[k].Cp).EncodeToUtf8(key[n..]);
                if (_map.TryTransform(key[..n], out var start, out var length))
                {
                    dest ??= Copy(span[..i]);
                    Replace(dest, end - i, _map.Replacement(start, length));
                    i = end;
                    continue;
                }
            }

            for (var k = i; k < end; k++)
            {
                var c = span[k].Cp;
                if (c < 0x80)
                {
                    var entry = c == 0 ? -1 : _asciiEntry[c];
                    if (entry >= 0)
                    {
                        dest ??= Copy(span[..k]);
                        Replace(dest, 1, _asciiValues[entry]);
                    }
                    else
                    {
                        dest?.Add((c, 0));
                    }

                    continue;
                }

                var len = new Rune(c).EncodeToUtf8(key);
                if (_map.TryTransform(key[..len], out var start, out var length))
                {
                    dest ??= Copy(span[..k]);
                    Replace(dest, 1, _map.Replacement(start, length));
                }
                else
                {
                    dest?.Add((c, 0));
                }
            }

            i = end;
        }

        return dest == null ? chars : NormalizedText.Transform(chars, dest, 0, originStart);
    }

    private static int Utf8Length(ReadOnlySpan<NChar> chars)
    {
        var n = 0;
        foreach (var c in chars) n += c.Cp < 0x80 ? 1 : c.Cp < 0x800 ? 2 : c.Cp < 0x10000 ? 3 : 4;
        return n;
    }

    private static List<(int Cp, int Change)> Copy(ReadOnlySpan<NChar> before)
    {
        var dest = new List<(int Cp, int Change)>(before.Length + 16);
        foreach (var c in before) dest.Add((c.Cp, 0));
        return dest;
    }

    /// <summary>HF precompiled.rs <c>replace</c>: <paramref name="oldCount"/> chars become the replacement.</summary>
    private static void Replace(List<(int Cp, int Change)> dest, int oldCount, ReadOnlySpan<byte> replacement)
    {
        var first = dest.Count;
        while (!replacement.IsEmpty)
        {
            Rune.DecodeFromUtf8(replacement, out var rune, out var consumed);
            dest.Add((rune.Value, 0));
            replacement = replacement[consumed..];
        }

        Adjust(dest, first, oldCount);
    }

    private static void Replace(List<(int Cp, int Change)> dest, int oldCount, int[] replacement)
    {
        var first = dest.Count;
        foreach (var cp in replacement) dest.Add((cp, 0));
        Adjust(dest, first, oldCount);
    }

    private static void Adjust(List<(int Cp, int Change)> dest, int first, int oldCount)
    {
        var diff = dest.Count - first - oldCount;
        if (diff > 0)
        {
            for (var k = dest.Count - diff; k < dest.Count; k++) dest[k] = (dest[k].Cp, 1);
        }
        else if (diff < 0 && dest.Count > 0)
        {
            var (cp, change) = dest[^1];
            dest[^1] = (cp, change + diff);
        }
    }
}

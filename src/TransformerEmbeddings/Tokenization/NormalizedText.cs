namespace TransformerEmbeddings.Tokenization;

/// <summary>HF NormalizedString operations over <see cref="NChar"/> lists, with HF's alignment rules.</summary>
internal static class NormalizedText
{
    /// <summary>
    /// HF <c>NormalizedString::transform</c>: <paramref name="dest"/> yields (char, change) with change 0 = replaces the
    /// next original char, 1 = newly inserted (aligned like the previous original char), -N = replaces and removes
    /// the N following chars. <paramref name="initialOffset"/> chars are removed at the start.
    /// </summary>
    internal static List<NChar> Transform(IReadOnlyList<NChar> old, IReadOnlyList<(int Cp, int Change)> dest, int initialOffset, int originStart)
    {
        var result = new List<NChar>(dest.Count);
        var offset = initialOffset;
        foreach (var (cp, change) in dest)
        {
            int s, e;
            if (change > 0)
            {
                if (offset < 1)
                {
                    s = originStart;
                    e = originStart;
                }
                else
                {
                    s = old[offset - 1].Start;
                    e = old[offset - 1].End;
                }
            }
            else
            {
                s = old[offset].Start;
                e = old[offset].End;
                offset++;
                if (change < 0) offset += -change;
            }

            result.Add(new NChar(cp, s, e));
        }

        return result;
    }

    /// <summary>HF <c>filter</c>: drops chars; kept chars keep their alignment.</summary>
    internal static List<NChar> Filter(List<NChar> chars, Func<int, bool> keep)
    {
        var result = new List<NChar>(chars.Count);
        foreach (var c in chars)
            if (keep(c.Cp))
                result.Add(c);
        return result;
    }

    /// <summary>HF <c>lowercase</c> (Rust char::to_lowercase; extra chars are inserted).</summary>
    internal static List<NChar> Lowercase(List<NChar> chars)
    {
        var result = new List<NChar>(chars.Count);
        foreach (var c in chars)
        {
            var n = UnicodeTables.ToLower(c.Cp, out var first, out var second);
            result.Add(c with { Cp = first });
            if (n == 2) result.Add(c with { Cp = second });
        }

        return result;
    }

    /// <summary>HF <c>nfd</c>: canonical decomposition and canonical reordering, with the change flags of unicode-normalization-alignments.</summary>
    internal static List<NChar> Nfd(List<NChar> chars, int originStart) => Normalize(chars, originStart, compatibility: false, compose: false);

    /// <summary>
    /// HF <c>nfd</c>, <c>nfkd</c>, <c>nfc</c>, <c>nfkc</c>: unicode-normalization-alignments 0.1.12 (Unicode 9.0) with its
    /// change flags: a decomposition's first char replaces the original (0) and the others are inserted (1); a
    /// composition merges the flags of what it composes (first + second - 1).
    /// </summary>
    internal static List<NChar> Normalize(List<NChar> chars, int originStart, bool compatibility, bool compose)
    {
        // Below U+00A0 nothing decomposes; below U+0300 NFC gives back every char unchanged.
        var limit = compose && !compatibility ? 0x300 : compatibility ? 0xA0 : 0xC0;
        var needed = false;
        foreach (var c in chars)
        {
            if (c.Cp >= limit)
            {
                needed = true;
                break;
            }
        }

        if (!needed) return chars;

        var dest = new List<(int Cp, int Change)>(chars.Count + 8);
        var buffer = new List<int>(4);
        foreach (var c in chars)
        {
            buffer.Clear();
            UnicodeTables.Decompose(c.Cp, buffer, compatibility);
            for (var i = 0; i < buffer.Count; i++) dest.Add((buffer[i], i == 0 ? 0 : 1));
        }

        // Canonical ordering: stable sort of every run of non-starters by combining class (the pairs move together).
        var k = 0;
        while (k < dest.Count)
        {
            if (UnicodeTables.GetCombiningClass(dest[k].Cp) == 0)
            {
                k++;
                continue;
            }

            var runStart = k;
            while (k < dest.Count && UnicodeTables.GetCombiningClass(dest[k].Cp) != 0) k++;
            if (k - runStart > 1)
            {
                var run = dest.GetRange(runStart, k - runStart);
                var sorted = run.Select((p, i) => (p, i, ccc: UnicodeTables.GetCombiningClass(p.Cp)))
                    .OrderBy(x => x.ccc).ThenBy(x => x.i).Select(x => x.p).ToList();
                for (var i = 0; i < sorted.Count; i++) dest[runStart + i] = sorted[i];
            }
        }

        if (compose) dest = Recompose(dest);
        return Transform(chars, dest, 0, originStart);
    }

    /// <summary>The <c>Recompositions</c> iterator of unicode-normalization-alignments 0.1.12, run to the end.</summary>
    private static List<(int Cp, int Change)> Recompose(List<(int Cp, int Change)> decomposed)
    {
        var output = new List<(int Cp, int Change)>(decomposed.Count);
        var buffer = new List<(int Cp, int Change)>();
        (int Cp, int Change)? composee = null;
        int? lastClass = null;
        foreach (var (ch, change) in decomposed)
        {
            var chClass = UnicodeTables.GetCombiningClass(ch);
            if (composee is not { } k)
            {
                if (chClass != 0) output.Add((ch, change));
                else composee = (ch, change);
                continue;
            }

            if (lastClass is { } l && l >= chClass)
            {
                // ch is blocked from the composee.
                if (chClass == 0)
                {
                    output.Add(k);
                    output.AddRange(buffer);
                    buffer.Clear();
                    composee = (ch, change);
                    lastClass = null;
                }
                else
                {
                    buffer.Add((ch, change));
                    lastClass = chClass;
                }

                continue;
            }

            var composed = UnicodeTables.Compose(k.Cp, ch);
            if (composed >= 0)
            {
                composee = (composed, k.Change + change - 1);
                continue;
            }

            if (lastClass == null && chClass == 0)
            {
                output.Add(k);
                composee = (ch, change);
                continue;
            }

            buffer.Add((ch, change));
            lastClass = chClass;
        }

        if (composee is { } last) output.Add(last);
        output.AddRange(buffer);
        return output;
    }

    /// <summary>
    /// HF <c>NormalizedString::replace</c> for the matches [start, end) (code points, ascending, non-overlapping):
    /// each match becomes <paramref name="content"/>, every new char aligned like the match's last char (like the
    /// char before an empty match, or the piece's start at position 0).
    /// </summary>
    internal static List<NChar> Replace(List<NChar> chars, List<(int Start, int End)> matches, ReadOnlySpan<int> content, int originStart)
    {
        if (matches.Count == 0) return chars;
        var result = new List<NChar>(chars.Count + matches.Count * content.Length);
        var last = 0;
        foreach (var (start, end) in matches)
        {
            for (var i = last; i < start; i++) result.Add(chars[i]);
            int s, e;
            if (end > 0)
            {
                s = chars[end - 1].Start;
                e = chars[end - 1].End;
            }
            else
            {
                s = e = originStart;
            }

            foreach (var cp in content) result.Add(new NChar(cp, s, e));
            last = end;
        }

        for (var i = last; i < chars.Count; i++) result.Add(chars[i]);
        return result;
    }

    /// <summary>HF <c>lstrip</c> / <c>rstrip</c> / <c>strip</c>: removes leading / trailing White_Space; kept chars keep their alignment.</summary>
    internal static List<NChar> Strip(List<NChar> chars, bool left, bool right)
    {
        var start = 0;
        var end = chars.Count;
        if (left)
            while (start < end && UnicodeTables.IsWhiteSpace(chars[start].Cp))
                start++;
        if (right)
            while (end > start && UnicodeTables.IsWhiteSpace(chars[end - 1].Cp))
                end--;
        if (start == 0 && end == chars.Count) return chars;
        chars.RemoveRange(end, chars.Count - end);
        chars.RemoveRange(0, start);
        return chars;
    }

    /// <summary>Converts text to code points with their UTF-16 spans; lone surrogates become U+FFFD (Rust strings cannot hold them).</summary>
    internal static List<NChar> FromText(string text, int start, int end) => FromText(text, start, end, new List<NChar>(end - start));

    /// <summary>Appends the code points of text[start..end] with their UTF-16 spans to <paramref name="result"/> (see above).</summary>
    internal static List<NChar> FromText(string text, int start, int end, List<NChar> result)
    {
        result.EnsureCapacity(result.Count + end - start);
        var i = start;
        while (i < end)
        {
            var ch = text[i];
            if (!char.IsSurrogate(ch))
            {
                result.Add(new NChar(ch, i, i + 1));
                i++;
            }
            else if (char.IsHighSurrogate(ch) && i + 1 < end && char.IsLowSurrogate(text[i + 1]))
            {
                result.Add(new NChar(char.ConvertToUtf32(ch, text[i + 1]), i, i + 2));
                i += 2;
            }
            else
            {
                result.Add(new NChar(0xFFFD, i, i + 1));
                i++;
            }
        }

        return result;
    }

    /// <summary>The normalized text as a .NET string.</summary>
    internal static string ToText(ReadOnlySpan<NChar> chars)
    {
        var sb = new System.Text.StringBuilder(chars.Length);
        foreach (var c in chars)
        {
            if (c.Cp < 0x10000) sb.Append((char)c.Cp);
            else sb.Append(char.ConvertFromUtf32(c.Cp));
        }

        return sb.ToString();
    }
}

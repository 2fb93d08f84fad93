namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>BertNormalizer</c>: clean text, pad CJK ideographs with spaces, strip accents, lowercase.</summary>
internal sealed class BertNormalizer(bool cleanText, bool handleChineseChars, bool stripAccents, bool lowercase) : INormalizer
{
    public List<NChar> Normalize(List<NChar> chars, int originStart)
    {
        if (TryNormalizeBelowC0(chars)) return chars;
        if (cleanText)
        {
            chars = NormalizedText.Filter(chars, cp => !(cp == 0 || cp == 0xFFFD || IsControl(cp)));
            for (var i = 0; i < chars.Count; i++)
                if (IsWhitespace(chars[i].Cp))
                    chars[i] = chars[i] with { Cp = ' ' };
        }

        if (handleChineseChars)
        {
            var any = false;
            foreach (var c in chars)
            {
                if (UnicodeTables.IsChineseChar(c.Cp))
                {
                    any = true;
                    break;
                }
            }

            if (any)
            {
                var dest = new List<(int, int)>(chars.Count + 16);
                foreach (var c in chars)
                {
                    if (UnicodeTables.IsChineseChar(c.Cp))
                    {
                        dest.Add((' ', 1));
                        dest.Add((c.Cp, 0));
                        dest.Add((' ', 1));
                    }
                    else
                    {
                        dest.Add((c.Cp, 0));
                    }
                }

                chars = NormalizedText.Transform(chars, dest, 0, originStart);
            }
        }

        if (stripAccents)
        {
            chars = NormalizedText.Nfd(chars, originStart);
            chars = NormalizedText.Filter(chars, cp => !UnicodeTables.IsNonspacingMark9(cp));
        }

        if (lowercase) chars = NormalizedText.Lowercase(chars);
        return chars;
    }

    /// <summary>
    /// Fast path, in place, when every code point is below U+00C0: then there are no CJK ideographs, NFD changes
    /// nothing and no char is a nonspacing mark (all are at U+0300 or above), and lowercasing maps each char to one
    /// char, so the stages reduce to one pass of per-char filter / map, in the same order as the general path.
    /// </summary>
    private bool TryNormalizeBelowC0(List<NChar> chars)
    {
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(chars);
        foreach (ref readonly var c in span)
            if (c.Cp >= 0xC0)
                return false;

        var w = 0;
        for (var i = 0; i < span.Length; i++)
        {
            var c = span[i];
            var cp = c.Cp;
            if (cleanText)
            {
                if (cp == 0 || IsControl(cp)) continue;
                if (IsWhitespace(cp)) cp = ' ';
            }

            if (lowercase) UnicodeTables.ToLower(cp, out cp, out _);
            span[w++] = new NChar(cp, c.Start, c.End);
        }

        if (w < span.Length) chars.RemoveRange(w, span.Length - w);
        return true;
    }

    private static bool IsWhitespace(int cp) => cp == '\t' || cp == '\n' || cp == '\r' || UnicodeTables.IsWhiteSpace(cp);

    private static bool IsControl(int cp) => cp != '\t' && cp != '\n' && cp != '\r' && UnicodeTables.IsOther9(cp);
}

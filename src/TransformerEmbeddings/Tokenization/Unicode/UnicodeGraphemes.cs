namespace TransformerEmbeddings.Tokenization;

/// <summary>
/// Extended grapheme clusters (UAX #29, Unicode 17.0) as unicode-segmentation 1.13 finds them for
/// <c>str::graphemes(true)</c>: rules GB3 to GB13, including GB9c (Indic conjuncts) and GB11 (emoji ZWJ sequences).
/// </summary>
internal static class UnicodeGraphemes
{
    /// <summary>Grapheme_Cluster_Break values, numbered as in UnicodeTables.GraphemeBreak17 (Other = 0).</summary>
    private enum Break
    {
        Other, CR, LF, Control, Extend, ZWJ, RegionalIndicator, Prepend, SpacingMark, L, V, T, LV, LVT,
    }

    private static Break BreakOf(int cp)
    {
        if (cp < 0x7F)
        {
            if (cp >= 0x20) return Break.Other;
            return cp == '\r' ? Break.CR : cp == '\n' ? Break.LF : Break.Control;
        }

        var t = UnicodeTables.GraphemeBreak17;
        int lo = 0, hi = t.Length / 3 - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >> 1;
            if (cp < t[3 * mid]) hi = mid - 1;
            else if (cp >= t[3 * mid + 1]) lo = mid + 1;
            else return (Break)t[3 * mid + 2];
        }

        return Break.Other;
    }

    /// <summary>The end (exclusive) of the grapheme cluster that starts at <paramref name="start"/>.</summary>
    internal static int ClusterEnd(ReadOnlySpan<NChar> s, int start)
    {
        var n = s.Length;
        var i = start + 1;
        var first = s[start].Cp;
        // Fast path: after an ASCII printable (Other) only Extend, ZWJ and SpacingMark join, and all are at U+0300 or above.
        if (first is >= 0x20 and < 0x7F && (i == n || s[i].Cp < 0x300)) return i;

        var prev = BreakOf(first);
        var emoji = IsExtendedPictographic(first); // inside ExtPict Extend*
        var emojiZwj = false; // ExtPict Extend* ZWJ just ended here
        var regional = prev == Break.RegionalIndicator ? 1 : 0;
        var consonant = UnicodeTables.InRanges(UnicodeTables.InCbConsonant17, first); // InCB Consonant [Extend|Linker]*
        var linker = false; // ... with at least one Linker
        for (; i < n; i++)
        {
            var cp = s[i].Cp;
            var cur = BreakOf(cp);
            var pictographic = IsExtendedPictographic(cp);
            var isConsonant = cp >= 0x900 && UnicodeTables.InRanges(UnicodeTables.InCbConsonant17, cp);
            if (!Joins(prev, cur, pictographic, isConsonant, emojiZwj, regional, consonant && linker)) return i;

            if (pictographic)
            {
                emoji = true;
                emojiZwj = false;
            }
            else if (cur == Break.ZWJ && emoji)
            {
                emoji = false;
                emojiZwj = true;
            }
            else if (cur != Break.Extend || !emoji)
            {
                emoji = false;
                emojiZwj = false;
            }

            regional = cur == Break.RegionalIndicator ? regional + 1 : 0;
            if (isConsonant)
            {
                consonant = true;
                linker = false;
            }
            else if (consonant && UnicodeTables.InRanges(UnicodeTables.InCbLinker17, cp))
            {
                linker = true;
            }
            else if (!consonant || !UnicodeTables.InRanges(UnicodeTables.InCbExtend17, cp))
            {
                consonant = false;
                linker = false;
            }

            prev = cur;
        }

        return n;
    }

    private static bool IsExtendedPictographic(int cp) => cp >= 0xA9 && UnicodeTables.InRanges(UnicodeTables.ExtendedPictographic17, cp);

    private static bool Joins(Break prev, Break cur, bool curPictographic, bool curConsonant, bool emojiZwj, int regional, bool conjunct)
    {
        if (prev == Break.CR && cur == Break.LF) return true; // GB3
        if (prev is Break.Control or Break.CR or Break.LF) return false; // GB4
        if (cur is Break.Control or Break.CR or Break.LF) return false; // GB5
        if (prev == Break.L && cur is Break.L or Break.V or Break.LV or Break.LVT) return true; // GB6
        if (prev is Break.LV or Break.V && cur is Break.V or Break.T) return true; // GB7
        if (prev is Break.LVT or Break.T && cur == Break.T) return true; // GB8
        if (cur is Break.Extend or Break.ZWJ) return true; // GB9
        if (cur == Break.SpacingMark) return true; // GB9a
        if (prev == Break.Prepend) return true; // GB9b
        if (curConsonant && conjunct) return true; // GB9c
        if (prev == Break.ZWJ && emojiZwj && curPictographic) return true; // GB11
        if (prev == Break.RegionalIndicator && cur == Break.RegionalIndicator) return regional % 2 == 1; // GB12, GB13
        return false; // GB999
    }
}

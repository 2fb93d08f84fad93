namespace TransformerEmbeddings.Tokenization;

/// <summary>
/// Character classes exactly as HuggingFace tokenizers sees them. HF takes its Unicode facts from three places
/// frozen at different versions (see UnicodeTables.generate.mjs), so the tables here are generated from those
/// versions rather than asked of the .NET runtime, whose Unicode version differs between net8.0 and net10.0 and
/// whose normalization does not work under InvariantGlobalization.
/// </summary>
internal static partial class UnicodeTables
{
    // Each map is built on its first use, in a nested class of its own (so the generated arrays of the partial class
    // exist by then, and a tokenizer that never composes never builds the compositions). Plain dictionaries: they are
    // read only for characters past ASCII, and frozen ones cost ~30 ms to build in the middle of a run's first pass.
    private static class LowercaseMap
    {
        internal static readonly Dictionary<int, int> Map = BuildPairs(Lowercase16);
    }

    private static class DecompositionMap
    {
        internal static readonly Dictionary<int, int[]> Map = BuildDecompositions(CanonicalDecomposition);
    }

    private static class CompatibilityMap
    {
        internal static readonly Dictionary<int, int[]> Map = BuildDecompositions(CompatibilityDecomposition);
    }

    private static class CompositionMap
    {
        internal static readonly Dictionary<long, int> Map = BuildCompositions();
    }

    private static Dictionary<int, int> BuildPairs(int[] pairs)
    {
        var d = new Dictionary<int, int>(pairs.Length / 2);
        for (var i = 0; i < pairs.Length; i += 2) d[pairs[i]] = pairs[i + 1];
        return d;
    }

    private static Dictionary<long, int> BuildCompositions()
    {
        var d = new Dictionary<long, int>(CompositionPairs.Length / 3);
        for (var i = 0; i < CompositionPairs.Length; i += 3) d[PairKey(CompositionPairs[i], CompositionPairs[i + 1])] = CompositionPairs[i + 2];
        return d;
    }

    private static long PairKey(int first, int second) => ((long)first << 21) | (uint)second;

    private static Dictionary<int, int[]> BuildDecompositions(int[] t)
    {
        var d = new Dictionary<int, int[]>();
        for (var i = 0; i < t.Length;)
        {
            var cp = t[i];
            var n = t[i + 1];
            d[cp] = t.AsSpan(i + 2, n).ToArray();
            i += 2 + n;
        }

        return d;
    }

    /// <summary>Whether <paramref name="cp"/> lies in one of the [start, end) pairs of a sorted range table.</summary>
    internal static bool InRanges(int[] table, int cp)
    {
        int lo = 0, hi = table.Length / 2 - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >> 1;
            if (cp < table[2 * mid]) hi = mid - 1;
            else if (cp >= table[2 * mid + 1]) lo = mid + 1;
            else return true;
        }

        return false;
    }

    /// <summary>Rust's char::is_whitespace (the White_Space property).</summary>
    internal static bool IsWhiteSpace(int cp) =>
        cp == ' ' || (cp >= 9 && cp <= 13) || (cp >= 0x80 && InRanges(WhiteSpace151, cp));

    /// <summary>unicode_categories' is_other (Cc, Cf, Co of Unicode 9.0).</summary>
    internal static bool IsOther9(int cp) => InRanges(Other9, cp);

    /// <summary>unicode_categories' is_mark_nonspacing (Mn of Unicode 9.0).</summary>
    internal static bool IsNonspacingMark9(int cp) => cp >= 0x300 && InRanges(NonspacingMark9, cp);

    /// <summary>BertPreTokenizer's punctuation: ASCII punctuation or any P* of Unicode 9.0.</summary>
    internal static bool IsBertPunctuation(int cp) =>
        (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126) ||
        (cp >= 0x80 && InRanges(Punctuation9, cp));

    /// <summary>Oniguruma's \p{L}.</summary>
    internal static bool IsLetter(int cp) => cp < 0x80
        ? (uint)((cp | 0x20) - 'a') <= 'z' - 'a'
        : InRanges(Letter151, cp);

    /// <summary>Oniguruma's \p{N}.</summary>
    internal static bool IsNumber(int cp) => cp < 0x80 ? (uint)(cp - '0') <= 9 : InRanges(Number151, cp);

    /// <summary>The CJK ranges of BertNormalizer's is_chinese_char.</summary>
    internal static bool IsChineseChar(int cp) =>
        (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
        (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
        (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);

    /// <summary>
    /// Rust's char::to_lowercase: the simple mapping plus the one unconditional multi-character mapping
    /// (U+0130 to "i" U+0307). Returns the number of code points written to <paramref name="first"/> / <paramref name="second"/>.
    /// </summary>
    internal static int ToLower(int cp, out int first, out int second)
    {
        second = 0;
        if (cp < 0x80)
        {
            first = (uint)(cp - 'A') <= 'Z' - 'A' ? cp + 32 : cp;
            return 1;
        }

        if (cp == 0x130)
        {
            first = 'i';
            second = 0x307;
            return 2;
        }

        first = LowercaseMap.Map.TryGetValue(cp, out var lower) ? lower : cp;
        return 1;
    }

    /// <summary>The canonical combining class of <paramref name="cp"/> (0 for starters).</summary>
    internal static int GetCombiningClass(int cp)
    {
        if (cp < 0x300) return 0;
        var t = CombiningClass;
        int lo = 0, hi = t.Length / 3 - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >> 1;
            if (cp < t[3 * mid]) hi = mid - 1;
            else if (cp >= t[3 * mid + 1]) lo = mid + 1;
            else return t[3 * mid + 2];
        }

        return 0;
    }

    /// <summary>Appends the full canonical or compatibility decomposition of <paramref name="cp"/> (Hangul included), in mapping order.</summary>
    internal static void Decompose(int cp, List<int> output, bool compatibility)
    {
        if (compatibility && cp >= 0xA0 && CompatibilityMap.Map.TryGetValue(cp, out var k))
        {
            output.AddRange(k);
            return;
        }

        Decompose(cp, output);
    }

    /// <summary>
    /// The canonical composition of <paramref name="first"/> and <paramref name="second"/> (Hangul LV and LVT
    /// algorithmically, else a primary composite of Unicode 9.0), or -1.
    /// </summary>
    internal static int Compose(int first, int second)
    {
        const int sBase = 0xAC00, lBase = 0x1100, vBase = 0x1161, tBase = 0x11A7, lCount = 19, vCount = 21, tCount = 28, sCount = 11172;
        if (first >= lBase && first < lBase + lCount && second >= vBase && second < vBase + vCount)
            return sBase + ((first - lBase) * vCount + second - vBase) * tCount;
        var s = first - sBase;
        if (s >= 0 && s < sCount && s % tCount == 0 && second > tBase && second < tBase + tCount)
            return first + second - tBase;
        return CompositionMap.Map.TryGetValue(PairKey(first, second), out var c) ? c : -1;
    }

    /// <summary>Appends the full canonical decomposition of <paramref name="cp"/> (Hangul included).</summary>
    internal static void Decompose(int cp, List<int> output)
    {
        const int sBase = 0xAC00, lBase = 0x1100, vBase = 0x1161, tBase = 0x11A7, tCount = 28, nCount = 588, sCount = 11172;
        if (cp < 0xC0)
        {
            output.Add(cp);
            return;
        }

        var s = cp - sBase;
        if (s >= 0 && s < sCount)
        {
            output.Add(lBase + s / nCount);
            output.Add(vBase + s % nCount / tCount);
            if (s % tCount != 0) output.Add(tBase + s % tCount);
            return;
        }

        if (DecompositionMap.Map.TryGetValue(cp, out var d)) output.AddRange(d);
        else output.Add(cp);
    }
}

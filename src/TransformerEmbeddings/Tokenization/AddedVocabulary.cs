using System.Globalization;
using System.Text;


namespace TransformerEmbeddings.Tokenization;

/// <summary>
/// HF <c>AddedVocabulary</c>: splits the raw text on non-normalized added tokens, normalizes the rest, then splits
/// on normalized added tokens. Matching is leftmost-longest and non-overlapping (aho-corasick's LeftmostLongest).
/// </summary>
internal sealed class AddedVocabulary
{
    private readonly Matcher _raw;
    private readonly Matcher _normalized;

    public AddedVocabulary(IReadOnlyList<AddedToken> tokens, INormalizer? normalizer)
    {
        Tokens = tokens;
        // HF orders special tokens first, then the others; with leftmost-longest the order only breaks exact ties.
        var ordered = tokens.Where(t => t.Special).Concat(tokens.Where(t => !t.Special)).ToList();
        _raw = new Matcher(ordered.Where(t => !t.Normalized).Select(t => (ToCps(t.Content), t)).ToList());
        _normalized = new Matcher(ordered.Where(t => t.Normalized).Select(t =>
        {
            var chars = NormalizedText.FromText(t.Content, 0, t.Content.Length);
            if (normalizer != null) chars = normalizer.Normalize(chars, 0);
            return (chars.Select(c => c.Cp).ToArray(), t);
        }).ToList());
    }

    public IReadOnlyList<AddedToken> Tokens { get; }

    /// <summary>The id of a token, added tokens first, then the model's vocabulary (HF <c>token_to_id</c>): the one lookup.</summary>
    public int? TokenToId(string token, ITokenizerModel model)
    {
        foreach (var t in Tokens)
            if (t.Content == token)
                return t.Id;
        return model.TokenToId(token);
    }

    /// <summary>The token of an id, added tokens first, then the model's vocabulary (HF <c>id_to_token</c>).</summary>
    public string? IdToToken(int id, ITokenizerModel model)
    {
        foreach (var t in Tokens)
            if (t.Id == id)
                return t.Content;
        return model.IdToToken(id);
    }

    /// <summary>HF <c>is_special_token</c>: whether <paramref name="content"/> is the content of a special added token.</summary>
    public bool IsSpecial(string content)
    {
        foreach (var t in Tokens)
            if (t.Special && t.Content == content)
                return true;
        return false;
    }

    private static int[] ToCps(string s) => NormalizedText.FromText(s, 0, s.Length).Select(c => c.Cp).ToArray();

    /// <summary>A split of the input: either an added token (with its value) or a normalized piece still to pre-tokenize.</summary>
    internal readonly record struct Piece(List<NChar> Chars, AddedToken? Token, string? Value);

    /// <summary>HF <c>extract_and_normalize</c>.</summary>
    public List<Piece> ExtractAndNormalize(string text, INormalizer? normalizer)
    {
        var result = new List<Piece>();
        ExtractAndNormalize(text, normalizer, result, new List<Piece>(), new List<NChar>());
        return result;
    }

    /// <summary>
    /// HF <c>extract_and_normalize</c>, appending to <paramref name="result"/>; <paramref name="scratch"/> and
    /// <paramref name="chars"/> are working space (the pieces may point into <paramref name="chars"/> until it is reused).
    /// </summary>
    public void ExtractAndNormalize(string text, INormalizer? normalizer, List<Piece> result, List<Piece> scratch, List<NChar> chars)
    {
        chars.Clear();
        var original = NormalizedText.FromText(text, 0, text.Length, chars);
        scratch.Clear();
        Split(original, _raw, scratch);
        foreach (var p in scratch)
        {
            if (p.Token != null)
            {
                result.Add(p);
                continue;
            }

            var originStart = p.Chars.Count > 0 ? p.Chars[0].Start : 0;
            var normalized = normalizer != null ? normalizer.Normalize(p.Chars, originStart) : p.Chars;
            if (normalized.Count == 0) continue;
            var from = result.Count;
            Split(normalized, _normalized, result);
            for (var i = result.Count - 1; i >= from; i--)
                if (result[i].Chars.Count == 0)
                    result.RemoveAt(i);
        }
    }

    /// <summary>Splits <paramref name="chars"/> on the matches of <paramref name="matcher"/> (the list itself when none match).</summary>
    private static void Split(List<NChar> chars, Matcher matcher, List<Piece> output)
    {
        if (matcher.IsEmpty || chars.Count == 0)
        {
            output.Add(new Piece(chars, null, null));
            return;
        }

        var cps = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(chars);
        var n = cps.Length;
        var startOffset = 0;
        var i = 0;
        while (i < n)
        {
            if (!matcher.TryMatchAt(cps, i, out var length, out var token))
            {
                i++;
                continue;
            }

            // Matches are found left to right, non-overlapping, independently of the adjustments below.
            var start = i;
            var stop = i + length;
            i = stop;
            if (token.SingleWord)
            {
                var startSpace = start == 0 || !IsWordChar(cps[start - 1].Cp);
                var stopSpace = stop == n || !IsWordChar(cps[stop].Cp);
                if (!startSpace || !stopSpace) continue;
            }

            if (token.LStrip)
            {
                var s = start;
                while (s > 0 && UnicodeTables.IsWhiteSpace(cps[s - 1].Cp)) s--;
                start = Math.Max(s, startOffset);
            }

            if (token.RStrip)
                while (stop < n && UnicodeTables.IsWhiteSpace(cps[stop].Cp)) stop++;

            if (startOffset < start) output.Add(new Piece(chars.GetRange(startOffset, start - startOffset), null, null));
            var slice = chars.GetRange(start, stop - start);
            output.Add(new Piece(slice, token, NormalizedText.ToText(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(slice))));
            startOffset = stop;
        }

        if (startOffset == 0) output.Add(new Piece(chars, null, null));
        else if (startOffset != n) output.Add(new Piece(chars.GetRange(startOffset, n - startOffset), null, null));
    }

    /// <summary>Rust regex's Unicode \w: alphabetic, marks, decimal digits, connector punctuation, join controls.</summary>
    private static bool IsWordChar(int cp)
    {
        if (cp is 0x200C or 0x200D) return true;
        if (!Rune.IsValid(cp)) return false;
        var cat = Rune.GetUnicodeCategory(new Rune(cp));
        return cat is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.LetterNumber
            or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark
            or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.ConnectorPunctuation;
    }

    /// <summary>Leftmost-longest, non-overlapping multi-pattern matching over code points.</summary>
    private sealed class Matcher
    {
        private readonly Dictionary<int, (int[] Pattern, AddedToken Token)[]> _byFirst;
        private readonly bool[] _asciiFirst = new bool[128];

        public Matcher(List<(int[] Pattern, AddedToken Token)> patterns)
        {
            _byFirst = patterns.Where(p => p.Pattern.Length > 0)
                .GroupBy(p => p.Pattern[0])
                .ToDictionary(g => g.Key, g => g.OrderByDescending(p => p.Pattern.Length).ToArray());
            foreach (var first in _byFirst.Keys)
                if (first is >= 0 and < 128)
                    _asciiFirst[first] = true;
        }

        public bool IsEmpty => _byFirst.Count == 0;

        /// <summary>The longest pattern (first in order among equals) that starts at <paramref name="i"/>.</summary>
        public bool TryMatchAt(ReadOnlySpan<NChar> text, int i, out int length, out AddedToken token)
        {
            var c = text[i].Cp;
            if ((c < 128 && !_asciiFirst[c]) || !_byFirst.TryGetValue(c, out var candidates))
            {
                length = 0;
                token = null!;
                return false;
            }

            foreach (var (pattern, t) in candidates)
            {
                if (i + pattern.Length > text.Length) continue;
                var k = 1;
                while (k < pattern.Length && text[i + k].Cp == pattern[k]) k++;
                if (k == pattern.Length)
                {
                    length = pattern.Length;
                    token = t;
                    return true;
                }
            }

            length = 0;
            token = null!;
            return false;
        }
    }
}

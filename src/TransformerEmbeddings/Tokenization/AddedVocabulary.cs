using System.Globalization;
using System.Text;

namespace TransformerEmbeddings.Tokenization;

/// <summary>An HF <c>AddedToken</c> with its id.</summary>
internal sealed record AddedToken(string Content, int Id, bool SingleWord, bool LStrip, bool RStrip, bool Normalized, bool Special);

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
            var chars = NormalizedText.FromText(t.Content, 0, t.Content.Length).ToList();
            if (normalizer != null) chars = normalizer.Normalize(chars, 0);
            return (chars.Select(c => c.Cp).ToArray(), t);
        }).ToList());
    }

    public IReadOnlyList<AddedToken> Tokens { get; }

    private static int[] ToCps(string s) => NormalizedText.FromText(s, 0, s.Length).Select(c => c.Cp).ToArray();

    /// <summary>A split of the input: either an added token (with its value) or a normalized piece still to pre-tokenize.</summary>
    internal readonly record struct Piece(List<NChar> Chars, AddedToken? Token, string? Value);

    /// <summary>HF <c>extract_and_normalize</c>.</summary>
    public List<Piece> ExtractAndNormalize(string text, INormalizer? normalizer)
    {
        var original = NormalizedText.FromText(text, 0, text.Length).ToList();
        var result = new List<Piece>();
        foreach (var p in Split(original, _raw))
        {
            if (p.Token != null)
            {
                result.Add(p);
                continue;
            }

            var originStart = p.Chars.Count > 0 ? p.Chars[0].Start : 0;
            var normalized = normalizer != null ? normalizer.Normalize(p.Chars, originStart) : p.Chars;
            if (normalized.Count == 0) continue;
            foreach (var q in Split(normalized, _normalized))
                if (q.Chars.Count > 0)
                    result.Add(q);
        }

        return result;
    }

    private static IEnumerable<Piece> Split(List<NChar> chars, Matcher matcher)
    {
        if (matcher.IsEmpty || chars.Count == 0)
        {
            yield return new Piece(chars, null, null);
            yield break;
        }

        var cps = chars.Select(c => c.Cp).ToArray();
        var startOffset = 0;
        foreach (var (mStart, mEnd, token) in matcher.FindAll(cps))
        {
            var start = mStart;
            var stop = mEnd;
            if (token.SingleWord)
            {
                var startSpace = start == 0 || !IsWordChar(cps[start - 1]);
                var stopSpace = stop == cps.Length || !IsWordChar(cps[stop]);
                if (!startSpace || !stopSpace) continue;
            }

            if (token.LStrip)
            {
                var s = start;
                while (s > 0 && UnicodeTables.IsWhiteSpace(cps[s - 1])) s--;
                start = Math.Max(s, startOffset);
            }

            if (token.RStrip)
                while (stop < cps.Length && UnicodeTables.IsWhiteSpace(cps[stop])) stop++;

            if (startOffset < start) yield return new Piece(chars.GetRange(startOffset, start - startOffset), null, null);
            var slice = chars.GetRange(start, stop - start);
            yield return new Piece(slice, token, NormalizedText.ToText(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(slice)));
            startOffset = stop;
        }

        if (startOffset != cps.Length) yield return new Piece(chars.GetRange(startOffset, cps.Length - startOffset), null, null);
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

        public Matcher(List<(int[] Pattern, AddedToken Token)> patterns)
        {
            _byFirst = patterns.Where(p => p.Pattern.Length > 0)
                .GroupBy(p => p.Pattern[0])
                .ToDictionary(g => g.Key, g => g.OrderByDescending(p => p.Pattern.Length).ToArray());
        }

        public bool IsEmpty => _byFirst.Count == 0;

        public IEnumerable<(int Start, int End, AddedToken Token)> FindAll(int[] text)
        {
            var i = 0;
            while (i < text.Length)
            {
                if (_byFirst.TryGetValue(text[i], out var candidates))
                {
                    var matched = false;
                    foreach (var (pattern, token) in candidates)
                    {
                        if (i + pattern.Length <= text.Length && text.AsSpan(i, pattern.Length).SequenceEqual(pattern))
                        {
                            yield return (i, i + pattern.Length, token);
                            i += pattern.Length;
                            matched = true;
                            break;
                        }
                    }

                    if (matched) continue;
                }

                i++;
            }
        }
    }
}

namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>Replace</c> normalizer: every match of the pattern becomes <c>content</c> (see <see cref="NormalizedText.Replace"/>).</summary>
internal sealed class ReplaceNormalizer(ReplacePattern pattern, string content) : INormalizer
{
    private readonly int[] _content = NormalizedText.FromText(content, 0, content.Length).Select(c => c.Cp).ToArray();

    [ThreadStatic]
    private static List<(int Start, int End)>? t_matches;

    public List<NChar> Normalize(List<NChar> chars, int originStart)
    {
        var matches = t_matches ??= [];
        matches.Clear();
        pattern.FindMatches(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(chars), matches);
        return matches.Count == 0 ? chars : NormalizedText.Replace(chars, matches, _content, originStart);
    }
}

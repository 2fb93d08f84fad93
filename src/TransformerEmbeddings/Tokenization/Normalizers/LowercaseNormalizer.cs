namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>Lowercase</c> normalizer.</summary>
internal sealed class LowercaseNormalizer : INormalizer
{
    public List<NChar> Normalize(List<NChar> chars, int originStart) => NormalizedText.Lowercase(chars);
}

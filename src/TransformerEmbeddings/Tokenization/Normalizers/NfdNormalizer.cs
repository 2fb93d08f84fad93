namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>NFD</c> normalizer.</summary>
internal sealed class NfdNormalizer : INormalizer
{
    public List<NChar> Normalize(List<NChar> chars, int originStart) => NormalizedText.Nfd(chars, originStart);
}

namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>Strip</c> normalizer: removes leading and/or trailing whitespace (Rust's char::is_whitespace).</summary>
internal sealed class StripNormalizer(bool left, bool right) : INormalizer
{
    public List<NChar> Normalize(List<NChar> chars, int originStart) => NormalizedText.Strip(chars, left, right);
}

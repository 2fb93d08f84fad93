namespace TransformerEmbeddings.Tokenization;

/// <summary>A normalizer stage (HF <c>Normalizer</c>).</summary>
internal interface INormalizer
{
    /// <summary>Normalizes <paramref name="chars"/>, which it may modify in place; returns the result (that list or a new one).</summary>
    List<NChar> Normalize(List<NChar> chars, int originStart);
}

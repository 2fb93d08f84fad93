namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>Sequence</c> of normalizers.</summary>
internal sealed class SequenceNormalizer(IReadOnlyList<INormalizer> normalizers) : INormalizer
{
    public List<NChar> Normalize(List<NChar> chars, int originStart)
    {
        foreach (var n in normalizers) chars = n.Normalize(chars, originStart);
        return chars;
    }
}

namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>NFKD</c>, <c>NFC</c> and <c>NFKC</c> normalizers (Unicode 9.0, as unicode-normalization-alignments 0.1.12).</summary>
internal sealed class UnicodeNormalizer(bool compatibility, bool compose) : INormalizer
{
    public List<NChar> Normalize(List<NChar> chars, int originStart) =>
        NormalizedText.Normalize(chars, originStart, compatibility, compose);
}

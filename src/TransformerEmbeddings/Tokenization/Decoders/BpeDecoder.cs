namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>BPEDecoder</c>: the end-of-word <paramref name="suffix"/> becomes a space (nothing in the last token).</summary>
internal sealed class BpeDecoder(string suffix) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens) =>
        tokens.Select((t, i) => suffix.Length == 0 ? t : t.Replace(suffix, i == tokens.Count - 1 ? "" : " ", StringComparison.Ordinal)).ToList();
}

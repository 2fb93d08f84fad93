namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>Replace</c> decoder: every match in every token becomes <paramref name="content"/>.</summary>
internal sealed class ReplaceDecoder(ReplacePattern pattern, string content) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens) => tokens.Select(t => pattern.ReplaceIn(t, content)).ToList();
}

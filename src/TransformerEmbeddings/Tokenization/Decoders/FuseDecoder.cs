namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>Fuse</c> decoder: all tokens joined into one.</summary>
internal sealed class FuseDecoder : IDecoder
{
    public List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];
}

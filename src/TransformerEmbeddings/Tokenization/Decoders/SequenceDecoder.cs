namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>Sequence</c> of decoders, applied in order.</summary>
internal sealed class SequenceDecoder(IReadOnlyList<IDecoder> decoders) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        foreach (var d in decoders) tokens = d.DecodeChain(tokens);
        return tokens;
    }
}

namespace TransformerEmbeddings.Tokenization;

/// <summary>A decoder stage (HF <c>Decoder</c>): turns token strings back into text pieces, joined at the end.</summary>
internal interface IDecoder
{
    /// <summary>HF <c>decode_chain</c>.</summary>
    List<string> DecodeChain(List<string> tokens);
}

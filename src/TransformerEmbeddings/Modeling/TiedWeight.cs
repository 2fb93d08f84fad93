using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// A weight shared with another module (an MLM decoder tied to the word embeddings). Not a module itself, so the
/// owner does not register, move or dispose the shared parameter a second time.
/// </summary>
internal sealed class TiedWeight(EmbeddingTable source)
{
    public Tensor Weight => source.Weight;
}

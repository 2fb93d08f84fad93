using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// A weight shared with another module (an MLM decoder tied to the word embeddings). Not a module itself, so the
/// owner does not register, move or dispose the shared parameter a second time. The checkpoint's copies at its path
/// (<c>decoder.weight</c>, <c>decoder.bias</c>) are accounted for, not loaded.
/// </summary>
internal sealed class TiedWeight
{
    private readonly EmbeddingTable source;

    public TiedWeight(WeightPath w, EmbeddingTable source)
    {
        this.source = source;
        w.Skip("weight");
        w.Skip("bias");
    }

    public Tensor Weight => source.Weight;
}

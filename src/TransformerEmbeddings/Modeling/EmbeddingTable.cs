using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>A lookup table of rows (<c>E[i]</c>) built from a checkpoint tensor.</summary>
internal sealed class EmbeddingTable : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight; // (rows, dim)

    public EmbeddingTable(WeightPath w, long rows, long dim) : base(nameof(EmbeddingTable))
    {
        weight = w.Take("weight", rows, dim);
        RegisterComponents();
    }

    /// <summary>The whole table, (rows, dim).</summary>
    public Tensor Weight => weight;

    public long Rows => weight.shape[0];

    public override Tensor forward(Tensor ids)
    {
        long[] shape = [.. ids.shape, weight.shape[1]];
        return weight.index_select(0, ids.reshape(-1)).view(shape);
    }
}

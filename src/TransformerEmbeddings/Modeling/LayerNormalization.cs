using TorchSharp;
using TorchSharp.Modules;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Runtime;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>LayerNorm over the last dimension with checkpoint weight and bias (legacy <c>gamma</c>/<c>beta</c> handled by the loader).</summary>
internal sealed class LayerNormalization : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter bias;
    private readonly long[] shape;
    private readonly double eps;
    private readonly InstructionSet addNorm; // the add & norm kernel's width, bound at load

    public LayerNormalization(WeightPath w, long size, double eps) : base(nameof(LayerNormalization))
    {
        weight = w.Take("weight", size);
        bias = w.Take("bias", size);
        shape = [size];
        this.eps = eps;
        addNorm = w.Backend.AddNorm;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => nn.functional.layer_norm(x, shape, weight, bias, eps);

    /// <summary>
    /// <c>LayerNorm(x + residual)</c>, BERT's add &amp; norm. <paramref name="x"/> is a fresh buffer nobody else holds (a
    /// dense layer's output): it is overwritten and returned, or released here when libtorch computes the result.
    /// </summary>
    /// <summary>
    /// <c>LayerNorm((x + a[aIds]) + b[bIds])</c>, BERT's embedding sum, in one pass of the add &amp; norm kernels; null
    /// where they do not take these tensors (then add and normalise with libtorch).
    /// </summary>
    public Tensor? TryForwardOfSum(Tensor x, Tensor a, Tensor aIds, Tensor b, Tensor bIds) =>
        Kernels.EmbeddingLayerNorm.TryApply(x, a, aIds, b, bIds, weight, bias, eps, addNorm);

    public Tensor forward(Tensor x, Tensor residual)
    {
        if (addNorm != InstructionSet.None && ResidualLayerNorm.Accepts(x, residual, weight))
            return ResidualLayerNorm.ApplyInPlace(x, residual, weight, bias, eps, addNorm);
        using var sum = x.add_(residual, Scalars.One);
        return forward(sum);
    }
}

using TorchSharp;
using TorchSharp.Modules;
using TransformerEmbeddings.Kernels;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>LayerNorm over the last dimension with checkpoint weight and bias (legacy <c>gamma</c>/<c>beta</c> handled by the loader).</summary>
internal sealed class LayerNormalization : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter bias;
    private readonly long[] shape;
    private readonly double eps;

    public LayerNormalization(WeightPath w, long size, double eps) : base(nameof(LayerNormalization))
    {
        weight = w.Take("weight", size);
        bias = w.Take("bias", size);
        shape = [size];
        this.eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => nn.functional.layer_norm(x, shape, weight, bias, eps);

    /// <summary>
    /// <c>forward(x + residual)</c> for the uncaptured path; <paramref name="x"/> is a fresh buffer nobody else holds,
    /// overwritten and returned by the CPU kernel, or released here when libtorch computes it.
    /// </summary>
    public Tensor AddAndNormalize(Tensor x, Tensor residual)
    {
        if (ResidualLayerNorm.Accepts(x, residual, weight)) return ResidualLayerNorm.ApplyInPlace(x, residual, weight, bias, eps);
        using var sum = x.add_(residual);
        return forward(sum);
    }
}

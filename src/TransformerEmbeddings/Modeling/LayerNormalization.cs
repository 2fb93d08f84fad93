using TorchSharp;
using TorchSharp.Modules;
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
}

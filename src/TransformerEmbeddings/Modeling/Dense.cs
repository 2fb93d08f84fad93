using TorchSharp;
using TorchSharp.Modules;
using TransformerEmbeddings.Kernels;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// A linear layer (<c>y = x Wᵀ + b</c>) built from checkpoint tensors. Unlike <c>torch.nn.Linear</c> it never creates
/// randomly initialised weights first.
/// </summary>
internal sealed class Dense : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight; // (out, in)
    private readonly Parameter bias;   // (out)
    private readonly KernelCache kernels = new(); // the CPU kernels' copies of the weight, made on first use

    public Dense(WeightPath w, long inFeatures, long outFeatures) : base(nameof(Dense))
    {
        weight = w.Take("weight", outFeatures, inFeatures);
        bias = w.Take("bias", outFeatures);
        RegisterComponents();
    }

    public Tensor Weight => weight;

    public Tensor Bias => bias;

    public override Tensor forward(Tensor x) => PackedLinear.Linear(x, weight, bias, kernels);

    /// <summary><c>gelu(x Wᵀ + b)</c> (exact GELU), fused into the CPU kernel where it runs.</summary>
    public Tensor ForwardGelu(Tensor x) => PackedLinear.Linear(x, weight, bias, kernels, gelu: true);
}

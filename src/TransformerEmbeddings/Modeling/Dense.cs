using TorchSharp;
using TorchSharp.Modules;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Kernels.Linear;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// A linear layer (<c>y = x Wᵀ + b</c>) built from checkpoint tensors. Unlike <c>torch.nn.Linear</c> it never creates
/// randomly initialised weights first; its kernel is bound once, when the model loads (<see cref="Kernels.ComputeBackend"/>).
/// </summary>
internal sealed class Dense : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight; // (out, in)
    private readonly Parameter? bias;  // (out), or none
    private readonly LinearKernel kernel;

    public Dense(WeightPath w, long inFeatures, long outFeatures, bool hasBias = true, LinearRole role = LinearRole.Other) : base(nameof(Dense))
    {
        weight = w.Take("weight", outFeatures, inFeatures);
        bias = hasBias ? w.Take("bias", outFeatures) : null;
        RegisterComponents();
        kernel = w.Backend.Linear(weight, bias, role);
    }

    public Tensor Weight => weight;

    /// <summary>The kernel bound at load.</summary>
    internal LinearKernel Kernel => kernel;

    /// <summary>The bias; every BERT linear layer has one (only a sentence-transformers Dense may not).</summary>
    public Tensor Bias => bias ?? throw new InvalidOperationException("This linear layer has no bias.");

    public override Tensor forward(Tensor x) => kernel.Forward(x);

    /// <summary><c>activation(x Wᵀ + b)</c>; the exact GELU is fused into the kernel's last pass.</summary>
    public Tensor forward(Tensor x, HiddenActivation activation) =>
        activation == HiddenActivation.Gelu ? kernel.Forward(x, gelu: true) : Activation.ApplyInPlace(activation, kernel.Forward(x));
}

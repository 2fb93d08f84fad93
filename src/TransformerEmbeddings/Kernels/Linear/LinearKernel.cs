using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels.Linear;

/// <summary>
/// How one linear layer (<c>y = x Wᵀ + b</c>, optionally followed by the exact GELU) is computed, bound to the layer
/// when the model loads (rten's <c>Kernel</c> trait): libtorch, the library's fp32 GEMM, or the fast mode's 12-bit GEMM.
/// The layer never asks which.
/// </summary>
internal abstract class LinearKernel
{
    /// <summary>x (…, K) → a new (…, N) tensor owned by the caller.</summary>
    /// <param name="x">The input.</param>
    /// <param name="gelu">Apply the exact GELU to the output (fused into the last pass of the library's kernels).</param>
    public abstract Tensor Forward(Tensor x, bool gelu = false);
}

/// <summary>libtorch's <c>linear</c>: CUDA, half precisions, and CPUs without the library's kernels.</summary>
internal sealed class TorchLinear(Tensor weight, Tensor? bias) : LinearKernel
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor x, bool gelu = false)
    {
        var y = nn.functional.linear(x, weight, bias);
        return gelu ? y.gelu_() : y;
    }
}

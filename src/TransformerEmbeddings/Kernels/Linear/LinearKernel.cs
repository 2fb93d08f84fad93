using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels.Linear;

/// <summary>
/// How one linear layer (<c>y = x Wᵀ + b</c>, optionally followed by the exact GELU) is computed, bound to the layer
/// when the model loads (rten's <c>Kernel</c> trait): libtorch, the library's fp32 GEMM, or the fast mode's 12-bit GEMM.
/// The layer never asks which.
/// </summary>
internal abstract class LinearKernel : IDisposable
{
    /// <summary>x (…, K) → a new (…, N) tensor owned by the caller.</summary>
    /// <param name="x">The input.</param>
    /// <param name="gelu">Apply the exact GELU to the output (fused into the last pass of the library's kernels).</param>
    public abstract Tensor Forward(Tensor x, bool gelu = false);

    /// <summary>Releases tensors the kernel made for itself (the modules' own parameters are theirs).</summary>
    public virtual void Dispose()
    {
    }
}

/// <summary>libtorch's <c>linear</c>: CUDA, half precisions, and CPUs without the library's kernels.</summary>
internal sealed class TorchLinear(Tensor weight, Tensor? bias, bool owned = false) : LinearKernel
{
    /// <summary>
    /// One layer over weights stacked row-wise (query, key, value) and their biases: libtorch needs the stack as one
    /// tensor, so the parts are copied into it once and become views of it (one copy of the weights, not two).
    /// </summary>
    public static TorchLinear Stacked(IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases)
    {
        using var _ = no_grad();
        var w = cat(weights.ToArray(), 0).DetachFromDisposeScope();
        var b = biases.Count == 0 ? null : cat(biases.ToArray(), 0).DetachFromDisposeScope();
        long row = 0;
        for (int i = 0; i < weights.Count; i++)
        {
            var rows = weights[i].shape[0];
            using (var view = w.narrow(0, row, rows)) weights[i].set_(view);
            if (b is not null)
                using (var view = b.narrow(0, row, rows)) biases[i].set_(view);
            row += rows;
        }
        return new TorchLinear(w, b, owned: true);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x, bool gelu = false)
    {
        var y = nn.functional.linear(x, weight, bias);
        return gelu ? y.gelu_() : y;
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        if (!owned) return;
        weight.Dispose();
        bias?.Dispose();
    }
}

using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels;

/// <summary>
/// A linear layer (<c>y = x Wᵀ + b</c>, optionally GELU) computed by a CPU kernel on row-major fp32 buffers, with the
/// tensor plumbing both kernels share: shapes, a contiguous input, a fresh output the caller owns.
/// </summary>
internal abstract unsafe class LinearKernel
{
    /// <summary>Sets the layer's sizes.</summary>
    /// <param name="outFeatures">N.</param>
    /// <param name="inFeatures">K.</param>
    protected LinearKernel(int outFeatures, int inFeatures)
    {
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
    }

    /// <summary>N.</summary>
    public int OutFeatures { get; }

    /// <summary>K.</summary>
    public int InFeatures { get; }

    /// <summary>Whether <see cref="Forward(Tensor, bool)"/> can take <paramref name="x"/> (CPU, float32, last dimension K).</summary>
    public bool Accepts(Tensor x) =>
        x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32 && x.dim() >= 1 && x.size(-1) == InFeatures;

    /// <summary><c>x Wᵀ + b</c>: x (…, K) CPU float32 → a new (…, N) float32 tensor owned by the caller, on up to
    /// <c>torch.get_num_threads()</c> threads.</summary>
    /// <param name="x">The input.</param>
    /// <param name="gelu">Apply the exact GELU to the output.</param>
    /// <returns>The output.</returns>
    public Tensor Forward(Tensor x, bool gelu = false)
    {
        if (!Accepts(x)) throw new ArgumentException($"Expected a CPU float32 tensor (…, {InFeatures}), got {x.dtype} ({string.Join(", ", x.shape)}) on {x.device_type}.", nameof(x));
        var shape = (long[])x.shape.Clone();
        shape[^1] = OutFeatures;
        var y = empty(shape, ScalarType.Float32);
        int rows = checked((int)(x.NumberOfElements / InFeatures));
        if (rows == 0) return y;
        var contiguous = x.is_contiguous() ? x : x.contiguous();
        try
        {
            Forward(TensorMemory.Floats(contiguous), rows, TensorMemory.Floats(y), torch.get_num_threads(), gelu);
        }
        finally
        {
            if (!ReferenceEquals(contiguous, x)) contiguous.Dispose();
        }
        return y;
    }

    /// <summary><c>y = x Wᵀ + b</c> on row-major buffers: x (rows × K), y (rows × N).</summary>
    /// <param name="x">The input rows.</param>
    /// <param name="y">The output rows.</param>
    /// <param name="rows">M.</param>
    /// <param name="threads">The most threads to use.</param>
    /// <param name="gelu">Apply the exact GELU to the output.</param>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows, int threads = 1, bool gelu = false)
    {
        if (x.Length < (long)rows * InFeatures || y.Length < (long)rows * OutFeatures) throw new ArgumentException("Buffers too small.");
        fixed (float* px = x)
        fixed (float* py = y)
            Forward(px, rows, py, threads, gelu);
    }

    /// <summary>The kernel: x (rows × K) → y (rows × N), both valid for the call.</summary>
    protected abstract void Forward(float* x, int rows, float* y, int threads, bool gelu);

    /// <summary>Builds a kernel from a (N, K) weight and (N) bias of any dtype or device, read once as fp32.</summary>
    /// <param name="weight">The (N, K) weight.</param>
    /// <param name="bias">The (N) bias, or null.</param>
    /// <param name="create">Packs row-major weights and bias (empty for none) of N × K.</param>
    /// <returns>The kernel, or null for a weight that is not two-dimensional.</returns>
    protected static T? FromTensors<T>(Tensor weight, Tensor? bias, Packer<T> create) where T : LinearKernel
    {
        if (weight.dim() != 2) return null;
        int n = checked((int)weight.shape[0]), k = checked((int)weight.shape[1]);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var w = weight.detach().to(ScalarType.Float32).cpu().contiguous();
        var b = bias?.detach().to(ScalarType.Float32).cpu().contiguous();
        return create(MemoryMarshal.Cast<byte, float>(w.bytes), b is null ? default : MemoryMarshal.Cast<byte, float>(b.bytes), n, k);
    }

    /// <summary>Packs row-major (N × K) weights and their bias (N values or none) into a kernel.</summary>
    protected delegate T Packer<out T>(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures);
}

using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels.Linear;

/// <summary>
/// The tensor plumbing of the library's CPU linear kernels: shapes, a contiguous fp32 input, a fresh output the caller
/// owns, and the layer's weight read once as fp32 on the first call (so loading stays a memory map).
/// </summary>
internal abstract unsafe class CpuLinear : LinearKernel
{
    private readonly Tensor? weight;
    private readonly Tensor? bias;
    private object? packed;

    /// <summary>A kernel over a (N, K) weight and (N) bias of any dtype, packed on first use.</summary>
    protected CpuLinear(Tensor weight, Tensor? bias)
    {
        if (weight.dim() != 2) throw new ArgumentException($"A linear weight is (out, in); got ({string.Join(", ", weight.shape)}).", nameof(weight));
        this.weight = weight;
        this.bias = bias;
        OutFeatures = checked((int)weight.shape[0]);
        InFeatures = checked((int)weight.shape[1]);
    }

    /// <summary>A kernel over weights already packed (tests and benchmarks, without libtorch).</summary>
    protected CpuLinear(object packed, int outFeatures, int inFeatures)
    {
        this.packed = packed;
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
    }

    /// <summary>N.</summary>
    public int OutFeatures { get; }

    /// <summary>K.</summary>
    public int InFeatures { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x, bool gelu = false)
    {
        if (x.device_type != DeviceType.CPU || x.dtype != ScalarType.Float32 || x.dim() < 1 || x.size(-1) != InFeatures)
            throw new ArgumentException($"Expected a CPU float32 tensor (…, {InFeatures}), got {x.dtype} ({string.Join(", ", x.shape)}) on {x.device_type}.", nameof(x));
        var shape = (long[])x.shape.Clone();
        shape[^1] = OutFeatures;
        var y = TensorMemory.Output(shape);
        int rows = checked((int)(x.NumberOfElements / InFeatures));
        if (rows == 0) return y;
        var contiguous = x.is_contiguous() ? x : x.contiguous();
        try
        {
            Run(TensorMemory.Floats(contiguous), rows, TensorMemory.Floats(y), torch.get_num_threads(), gelu);
        }
        finally
        {
            if (!ReferenceEquals(contiguous, x)) contiguous.Dispose();
        }
        return y;
    }

    /// <summary><c>y = x Wᵀ + b</c> on row-major buffers: x (rows × K), y (rows × N).</summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows, int threads = 1, bool gelu = false)
    {
        if (x.Length < (long)rows * InFeatures || y.Length < (long)rows * OutFeatures) throw new ArgumentException("Buffers too small.");
        fixed (float* px = x)
        fixed (float* py = y)
            Run(px, rows, py, threads, gelu);
    }

    /// <summary>The kernel: x (rows × K) → y (rows × N), both valid for the call.</summary>
    protected abstract void Run(float* x, int rows, float* y, int threads, bool gelu);

    /// <summary>The packed weights, made on the first call from the weight read once as fp32 (a race packs twice and keeps one).</summary>
    protected T Packed<T>(Packer<T> pack) where T : class
    {
        if (Volatile.Read(ref packed) is T ready) return ready;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var w = weight!.detach().to(ScalarType.Float32).cpu().contiguous();
        var b = bias?.detach().to(ScalarType.Float32).cpu().contiguous();
        var made = pack(MemoryMarshal.Cast<byte, float>(w.bytes), b is null ? default : MemoryMarshal.Cast<byte, float>(b.bytes));
        Interlocked.CompareExchange(ref packed, made, null);
        return (T)packed!;
    }

    /// <summary>Packs a row-major (N × K) fp32 weight and its bias (N values or none).</summary>
    protected delegate T Packer<out T>(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias);
}

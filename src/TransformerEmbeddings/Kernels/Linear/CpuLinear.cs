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
    private readonly Tensor[]? weights;
    private readonly Tensor[]? biases;
    private object? packed;

    /// <summary>A kernel over a (N, K) weight and (N) bias of any dtype, packed on first use.</summary>
    protected CpuLinear(Tensor weight, Tensor? bias) : this([weight], bias is null ? [] : [bias])
    {
    }

    /// <summary>
    /// A kernel over weights stacked row-wise — (N₁, K), (N₂, K), … — with their biases (one per weight, or none), as
    /// one (ΣNᵢ, K) layer: attention's query, key and value in one product. The stack is never stored: it is packed
    /// from the parts on first use, so the parts stay views of the checkpoint.
    /// </summary>
    protected CpuLinear(IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases)
    {
        if (weights.Count == 0) throw new ArgumentException("A linear layer needs a weight.", nameof(weights));
        if (biases.Count != 0 && biases.Count != weights.Count) throw new ArgumentException("Give a bias for every weight, or none.", nameof(biases));
        long rows = 0;
        foreach (var w in weights)
        {
            if (w.dim() != 2) throw new ArgumentException($"A linear weight is (out, in); got ({string.Join(", ", w.shape)}).", nameof(weights));
            if (w.shape[1] != weights[0].shape[1]) throw new ArgumentException("Stacked weights must have the same number of inputs.", nameof(weights));
            rows += w.shape[0];
        }
        this.weights = [.. weights];
        this.biases = [.. biases];
        OutFeatures = checked((int)rows);
        InFeatures = checked((int)weights[0].shape[1]);
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
            Run(TensorMemory.Floats(contiguous), rows, TensorMemory.Floats(y), OutFeatures, torch.get_num_threads(), gelu);
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
            Run(px, rows, py, OutFeatures, threads, gelu);
    }

    /// <summary>The kernel: x (rows × K) → y (rows × N, rows <paramref name="ldy"/> floats apart), both valid for the call.</summary>
    protected internal abstract void Run(float* x, int rows, float* y, int ldy, int threads, bool gelu);

    /// <summary>Whether this kernel reads one of <paramref name="parts"/> (the same tensor object) as its weight.</summary>
    public bool ReadsAnyOf(IReadOnlyList<Tensor> parts) => weights is not null && weights.Any(w => parts.Any(p => ReferenceEquals(p, w)));

    /// <summary>Whether the weights are packed (by a call or by <see cref="Prepare"/>).</summary>
    public virtual bool IsPacked => Volatile.Read(ref packed) is not null;

    /// <summary>Packs the weights now, on <paramref name="threads"/> threads, if no call has yet (a background head start).</summary>
    public abstract void Prepare(int threads);

    /// <summary>The packed weights, made on the first call from the weight read once as fp32 (passes side by side wait for one packing).</summary>
    protected T Packed<T>(Packer<T> pack) where T : class
    {
        if (Volatile.Read(ref packed) is T ready) return ready;
        lock (packing)
        {
            if (packed is T done) return done;
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var w = Stacked(weights!);
            var b = biases!.Length == 0 ? null : Stacked(biases);
            var made = pack(MemoryMarshal.Cast<byte, float>(w.bytes), b is null ? default : MemoryMarshal.Cast<byte, float>(b.bytes));
            Volatile.Write(ref packed, made);
            return made;
        }
    }

    private readonly object packing = new();

    /// <summary>The parts as one contiguous fp32 CPU tensor (a temporary of the packing's dispose scope when stacked).</summary>
    private static Tensor Stacked(Tensor[] parts) =>
        parts.Length == 1 ? parts[0].detach().to(ScalarType.Float32).cpu().contiguous()
                          : cat(parts.Select(t => t.detach().to(ScalarType.Float32).cpu()).ToArray(), 0);

    /// <summary>Packs a row-major (N × K) fp32 weight and its bias (N values or none).</summary>
    protected delegate T Packer<out T>(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias);
}

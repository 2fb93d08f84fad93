using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels;

/// <summary>
/// The fast mode's <c>nn.functional.linear(x, weight, bias)</c> for CPU fp32 tensors: weights quantised once
/// (<see cref="Int16Weights"/>), activations per row on every call, the product on <see cref="Int16Gemm"/>. Inputs and
/// outputs stay fp32, so everything around the linear layers (embeddings, attention, LayerNorm, GELU) is unchanged.
/// </summary>
internal sealed unsafe class Int16Linear
{
    private const int TilesPerItem = 16;
    private const int MaxPanelsPerItem = 8;
    private const int RowsPerQuantizeItem = 64;
    private const long SingleThreadBelowMacs = 1L << 20;

    private Int16Linear(Int16Weights weights) => Weights = weights;

    /// <summary>The quantised weights.</summary>
    public Int16Weights Weights { get; }

    /// <summary>Whether linear layers take this path, for calls made on this thread: the model's forward switches it on
    /// for models loaded in the fast mode (a thread-local context, like <c>torch.autocast</c>).</summary>
    public static bool Active { get => active; private set => active = value; }

    [ThreadStatic] private static bool active;

    /// <summary>Makes linear layers on this thread use (or not use) this path until the returned scope is disposed.</summary>
    /// <param name="on">Whether to use it.</param>
    /// <returns>A scope that restores the previous setting.</returns>
    public static Scope Use(bool on)
    {
        var previous = active;
        active = on;
        return new Scope(previous);
    }

    /// <summary>Restores the setting <see cref="Use"/> replaced.</summary>
    public readonly struct Scope(bool previous) : IDisposable
    {
        /// <summary>Restores the previous setting.</summary>
        public void Dispose() => active = previous;
    }

    /// <summary>Quantises a (N, K) weight and (N) bias (any dtype or device; read once as fp32), or null where the kernel cannot run.</summary>
    /// <param name="weight">The (N, K) weight.</param>
    /// <param name="bias">The (N) bias, or null.</param>
    /// <returns>The layer, or null when the CPU lacks AVX2/FMA.</returns>
    public static Int16Linear? TryCreate(Tensor weight, Tensor? bias)
    {
        if (!Int16Gemm.IsSupported || weight.dim() != 2) return null;
        int n = checked((int)weight.shape[0]), k = checked((int)weight.shape[1]);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var w = weight.detach().to(ScalarType.Float32).cpu().contiguous();
        var b = bias?.detach().to(ScalarType.Float32).cpu().contiguous();
        return new Int16Linear(Int16Weights.Pack(Floats(w), b is null ? default : Floats(b), n, k));
    }

    /// <summary>Quantises a row-major (N × K) weight and its bias (N values, or empty) without libtorch.</summary>
    /// <param name="weight">N × K values.</param>
    /// <param name="bias">N values or none.</param>
    /// <param name="outFeatures">N.</param>
    /// <param name="inFeatures">K.</param>
    /// <returns>The layer.</returns>
    public static Int16Linear FromWeights(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures) =>
        new(Int16Weights.Pack(weight, bias, outFeatures, inFeatures));

    /// <summary>Whether <see cref="Forward(Tensor, bool)"/> can take <paramref name="x"/> (CPU, float32, last dimension K).</summary>
    public bool Accepts(Tensor x) =>
        x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32 && x.dim() >= 1 && x.shape[^1] == Weights.InFeatures;

    /// <summary><c>x Wᵀ + b</c> at 12 bits: x (…, K) CPU float32 → a new (…, N) float32 tensor owned by the caller.</summary>
    /// <param name="x">The input.</param>
    /// <param name="gelu">Apply the exact GELU to the output.</param>
    /// <returns>The output.</returns>
    public Tensor Forward(Tensor x, bool gelu = false)
    {
        if (!Accepts(x)) throw new ArgumentException($"Expected a CPU float32 tensor (…, {Weights.InFeatures}), got {x.dtype} ({string.Join(", ", x.shape)}) on {x.device_type}.", nameof(x));
        var shape = (long[])x.shape.Clone();
        shape[^1] = Weights.OutFeatures;
        var y = empty(shape, ScalarType.Float32);
        int rows = checked((int)(x.NumberOfElements / Weights.InFeatures));
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

    /// <summary><c>y = x Wᵀ + b</c> at 12 bits on row-major buffers: x (rows × K), y (rows × N).</summary>
    /// <param name="x">The input rows.</param>
    /// <param name="y">The output rows.</param>
    /// <param name="rows">M.</param>
    /// <param name="threads">The most threads to use.</param>
    /// <param name="gelu">Apply the exact GELU to the output.</param>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows, int threads = 1, bool gelu = false)
    {
        if (x.Length < (long)rows * Weights.InFeatures || y.Length < (long)rows * Weights.OutFeatures) throw new ArgumentException("Buffers too small.");
        fixed (float* px = x)
        fixed (float* py = y)
            Forward(px, rows, py, threads, gelu);
    }

    private static ReadOnlySpan<float> Floats(Tensor t) => MemoryMarshal.Cast<byte, float>(t.bytes);

    private void Forward(float* x, int rows, float* y, int threads, bool gelu)
    {
        var w = Weights;
        int ld = 2 * w.Pairs;
        int tiles = (rows + Int16Gemm.RowBlock - 1) / Int16Gemm.RowBlock;
        int rowChunks = (tiles + TilesPerItem - 1) / TilesPerItem;
        long macs = (long)rows * w.InFeatures * w.OutFeatures;
        threads = macs < SingleThreadBelowMacs ? 1 : Math.Clamp(threads, 1, TileWorkers.MaxThreads);
        int panelsPerItem = MaxPanelsPerItem;
        while (panelsPerItem > 1 && rowChunks * ((w.Panels + panelsPerItem - 1) / panelsPerItem) < 4 * threads) panelsPerItem /= 2;
        var q = ArrayPool<short>.Shared.Rent(checked(rows * ld));
        var scales = ArrayPool<float>.Shared.Rent(rows);
        try
        {
            fixed (short* pq = q)
            fixed (float* ps = scales)
            fixed (short* pw = w.Packed)
            fixed (float* pws = w.Scales)
            fixed (float* pb = w.Bias)
            {
                var job = new Job
                {
                    Problem = new Int16Gemm.Problem { X = pq, XScale = ps, W = pw, WScale = pws, Bias = pb, Y = y, Rows = rows, Pairs = w.Pairs, N = w.OutFeatures, Gelu = gelu },
                    Source = x,
                    K = w.InFeatures,
                    Tiles = tiles,
                    Panels = w.Panels,
                    PanelsPerItem = panelsPerItem,
                    PanelChunks = (w.Panels + panelsPerItem - 1) / panelsPerItem,
                };
                TileWorkers.For((rows + RowsPerQuantizeItem - 1) / RowsPerQuantizeItem, threads, &job, &QuantizeItem);
                TileWorkers.For(rowChunks * job.PanelChunks, threads, &job, &GemmItem);
            }
        }
        finally
        {
            ArrayPool<short>.Shared.Return(q);
            ArrayPool<float>.Shared.Return(scales);
        }
    }

    private struct Job
    {
        public Int16Gemm.Problem Problem;
        public float* Source;
        public int K, Tiles, Panels, PanelsPerItem, PanelChunks;
    }

    private static void QuantizeItem(void* context, int item)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        ref var p = ref job.Problem;
        int end = Math.Min(p.Rows, (item + 1) * RowsPerQuantizeItem), ld = 2 * p.Pairs;
        for (int r = item * RowsPerQuantizeItem; r < end; r++)
            Int16Gemm.Quantize(job.Source + (long)r * job.K, job.K, p.X + (long)r * ld, p.Pairs, p.XScale + r);
    }

    private static void GemmItem(void* context, int item)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        int rowChunk = item / job.PanelChunks, panelChunk = item % job.PanelChunks;
        int t0 = rowChunk * TilesPerItem, p0 = panelChunk * job.PanelsPerItem;
        Int16Gemm.Run(in job.Problem, t0, Math.Min(job.Tiles, t0 + TilesPerItem), p0, Math.Min(job.Panels, p0 + job.PanelsPerItem));
    }
}

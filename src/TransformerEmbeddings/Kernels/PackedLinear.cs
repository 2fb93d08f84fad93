using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using TransformerEmbeddings.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels;

/// <summary>
/// <c>nn.functional.linear(x, weight, bias)</c> for CPU fp32 tensors on <see cref="Sgemm"/> with weights packed once:
/// libtorch's sgemm re-packs the weight on every call, which at a few rows costs more than the product and reads the
/// weights from memory twice. Work is split over row blocks and panel groups on up to <c>torch.get_num_threads()</c>
/// threads. Per call it allocates only the output tensor.
/// </summary>
internal sealed unsafe class PackedLinear
{
    private const int TilesPerItem = 16;                // 96 rows of activations per work item…
    private const int MaxPanelsPerItem = 8;             // …times up to 128 output channels
    private const long SingleThreadBelowMacs = 1L << 20;

    private PackedLinear(PackedWeights weights) => Weights = weights;

    /// <summary>The packed weights.</summary>
    public PackedWeights Weights { get; }

    /// <summary>Whether layers use the packed kernel where it can run, for calls made on this thread (on by default; tests and benchmarks turn it off to compare with libtorch). Per thread, so
    /// switching it off for a comparison never changes a forward pass running elsewhere.</summary>
    public static bool Enabled { get => !disabled; set => disabled = !value; }

    [ThreadStatic] private static bool disabled;

    /// <summary>
    /// <c>nn.functional.linear(x, weight, bias)</c>, on the packed kernel when x and the weight are CPU float32 tensors, the
    /// CPU has AVX2/FMA and no gradient is wanted — at 12 bits (<see cref="Int16Linear"/>) while the fast mode is
    /// <see cref="Int16Linear.Active"/>; <paramref name="cache"/> keeps the packing (made on first use, so loading stays a
    /// memory map). Anything else goes to libtorch, so CUDA, half precisions and autograd work unchanged.
    /// </summary>
    /// <param name="x">The input (…, K).</param>
    /// <param name="weight">The (N, K) weight.</param>
    /// <param name="bias">The (N) bias, or null.</param>
    /// <param name="cache">The layer's packed copies of its weight.</param>
    /// <param name="gelu">Apply the exact GELU to the output (fused into the kernel's last pass when it runs).</param>
    /// <returns>The (…, N) output, owned by the caller.</returns>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias, KernelCache cache, bool gelu = false)
    {
        if (Enabled && Sgemm.IsSupported
            && x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32
            && weight.device_type == DeviceType.CPU && weight.dtype == ScalarType.Float32
            && !(is_grad_enabled() && (x.requires_grad || weight.requires_grad)))
        {
            if (Int16Linear.Active)
            {
                var q = Volatile.Read(ref cache.Int16);
                if (q is null)
                {
                    Interlocked.CompareExchange(ref cache.Int16, Int16Linear.TryCreate(weight, bias), null);
                    q = cache.Int16;
                }
                if (q is not null && q.Accepts(x)) return q.Forward(x, gelu);
            }
            else if (!Avx512F.IsSupported || !LibtorchIsFaster(x.NumberOfElements / Math.Max(1, x.size(-1)), avx512: true))
            {
                var p = Volatile.Read(ref cache.Float32);
                if (p is null)
                {
                    Interlocked.CompareExchange(ref cache.Float32, TryCreate(weight, bias), null);
                    p = cache.Float32;
                }
                if (p is not null && p.Accepts(x)) return p.Forward(x, gelu);
            }
        }
        var y = nn.functional.linear(x, weight, bias);
        return gelu ? y.gelu_() : y;
    }

    /// <summary>
    /// Whether libtorch's GEMM beats the 256-bit packed kernel: on AVX-512 CPUs MKL's fp32 GEMM runs twice as wide, so the
    /// kernel keeps only the few-row products where libtorch's per-call weight repacking costs more than the product.
    /// </summary>
    /// <param name="rows">The product's rows (M).</param>
    /// <param name="avx512">Whether the CPU has AVX-512.</param>
    public static bool LibtorchIsFaster(long rows, bool avx512) => avx512 && rows > Sgemm.SequentialBelowRows;

    /// <summary>Packs a row-major (N × K) weight and its bias (N values, or empty) without libtorch.</summary>
    /// <param name="weight">N × K values.</param>
    /// <param name="bias">N values or none.</param>
    /// <param name="outFeatures">N.</param>
    /// <param name="inFeatures">K.</param>
    /// <returns>The layer.</returns>
    public static PackedLinear FromWeights(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures) =>
        new(PackedWeights.Pack(weight, bias, outFeatures, inFeatures));

    /// <summary>Whether <see cref="Forward(Tensor, bool)"/> can take <paramref name="x"/> (CPU, float32, last dimension K).</summary>
    public bool Accepts(Tensor x) =>
        x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32 && x.dim() >= 1 && x.shape[^1] == Weights.InFeatures;

    /// <summary>Packs a (N, K) weight and (N) bias (any dtype or device; read once as fp32), or null where the kernel cannot run.</summary>
    /// <param name="weight">The (N, K) weight.</param>
    /// <param name="bias">The (N) bias, or null.</param>
    /// <returns>The packed layer, or null when the CPU lacks AVX2/FMA.</returns>
    public static PackedLinear? TryCreate(Tensor weight, Tensor? bias)
    {
        if (!Sgemm.IsSupported || weight.dim() != 2) return null;
        int n = checked((int)weight.shape[0]), k = checked((int)weight.shape[1]);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var w = weight.detach().to(ScalarType.Float32).cpu().contiguous();
        var b = bias?.detach().to(ScalarType.Float32).cpu().contiguous();
        return new PackedLinear(PackedWeights.Pack(Floats(w), b is null ? default : Floats(b), n, k));
    }

    /// <summary><c>x Wᵀ + b</c>: x (…, K) CPU float32 → a new (…, N) float32 tensor owned by the caller.</summary>
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
            Forward(TensorMemory.Floats(contiguous), rows, TensorMemory.Floats(y), TorchThreads(), gelu);
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
        if (x.Length < (long)rows * Weights.InFeatures || y.Length < (long)rows * Weights.OutFeatures) throw new ArgumentException("Buffers too small.");
        fixed (float* px = x)
        fixed (float* py = y)
            Forward(px, rows, py, threads, gelu);
    }

    private static int TorchThreads() => TorchSharp.torch.get_num_threads();

    private static ReadOnlySpan<float> Floats(Tensor t) => MemoryMarshal.Cast<byte, float>(t.bytes);

    private void Forward(float* x, int rows, float* y, int threads, bool gelu)
    {
        var w = Weights;
        int tiles = (rows + Sgemm.RowBlock - 1) / Sgemm.RowBlock;
        int rowChunks = (tiles + TilesPerItem - 1) / TilesPerItem;
        long macs = (long)rows * w.InFeatures * w.OutFeatures;
        threads = macs < SingleThreadBelowMacs ? 1 : Math.Clamp(threads, 1, TileWorkers.MaxThreads);
        // Enough items for every thread to get several (balance), but panel groups as wide as that allows (reuse).
        int panelsPerItem = MaxPanelsPerItem;
        while (panelsPerItem > 1 && rowChunks * ((w.Panels + panelsPerItem - 1) / panelsPerItem) < 4 * threads) panelsPerItem /= 2;
        fixed (float* pw = w.Packed)
        fixed (float* pb = w.Bias)
        {
            var job = new Job
            {
                Problem = new Sgemm.Problem { X = x, W = pw, Bias = pb, Y = y, Rows = rows, K = w.InFeatures, N = w.OutFeatures, Gelu = gelu },
                Tiles = tiles,
                Panels = w.Panels,
                PanelsPerItem = panelsPerItem,
                PanelChunks = (w.Panels + panelsPerItem - 1) / panelsPerItem,
            };
            TileWorkers.For(rowChunks * job.PanelChunks, threads, &job, &Item);
        }
    }

    private struct Job
    {
        public Sgemm.Problem Problem;
        public int Tiles, Panels, PanelsPerItem, PanelChunks;
    }

    private static void Item(void* context, int item)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        // Row-chunk major: consecutive items share a block of activations.
        int rowChunk = item / job.PanelChunks, panelChunk = item % job.PanelChunks;
        int t0 = rowChunk * TilesPerItem, p0 = panelChunk * job.PanelsPerItem;
        Sgemm.Run(in job.Problem, t0, Math.Min(job.Tiles, t0 + TilesPerItem), p0, Math.Min(job.Panels, p0 + job.PanelsPerItem));
    }
}

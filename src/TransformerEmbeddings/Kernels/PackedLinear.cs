using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels;

/// <summary>
/// <c>nn.functional.linear(x, weight, bias)</c> for CPU fp32 tensors on <see cref="Sgemm"/> with weights packed once:
/// libtorch's sgemm re-packs the weight on every call, which at a few rows costs more than the product and reads the
/// weights from memory twice. Work is split over row blocks and panel groups on up to <c>torch.get_num_threads()</c>
/// threads. Per call it allocates only the output tensor.
/// </summary>
internal sealed unsafe class PackedLinear : LinearKernel
{
    private PackedLinear(PackedWeights weights) : base(weights.OutFeatures, weights.InFeatures) => Weights = weights;

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
            LinearKernel? kernel = Int16Linear.Active ? cache.Int16For(weight, bias)
                : !Avx512F.IsSupported || !LibtorchIsFaster(x.NumberOfElements / Math.Max(1, x.size(-1)), avx512: true) ? cache.Float32For(weight, bias)
                : null;
            if (kernel is not null && kernel.Accepts(x)) return kernel.Forward(x, gelu);
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

    /// <summary>Packs a (N, K) weight and (N) bias (any dtype or device; read once as fp32), or null where the kernel cannot run.</summary>
    /// <param name="weight">The (N, K) weight.</param>
    /// <param name="bias">The (N) bias, or null.</param>
    /// <returns>The packed layer, or null when the CPU lacks AVX2/FMA.</returns>
    public static PackedLinear? TryCreate(Tensor weight, Tensor? bias) =>
        Sgemm.IsSupported ? FromTensors(weight, bias, FromWeights) : null;

    /// <inheritdoc/>
    protected override void Forward(float* x, int rows, float* y, int threads, bool gelu)
    {
        var w = Weights;
        fixed (float* pw = w.Packed)
        fixed (float* pb = w.Bias)
        {
            var job = new Job
            {
                Problem = new Sgemm.Problem { X = x, W = pw, Bias = pb, Y = y, Rows = rows, K = w.InFeatures, N = w.OutFeatures, Gelu = gelu },
                Split = new GemmSplit(rows, Sgemm.RowBlock, w.InFeatures, w.OutFeatures, w.Panels, threads),
            };
            TileWorkers.For(job.Split.Items, job.Split.Threads, &job, &Item);
        }
    }

    private struct Job
    {
        public Sgemm.Problem Problem;
        public GemmSplit Split;
    }

    private static void Item(void* context, int item)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        var (t0, t1, p0, p1) = job.Split.Item(item);
        Sgemm.Run(in job.Problem, t0, t1, p0, p1);
    }
}

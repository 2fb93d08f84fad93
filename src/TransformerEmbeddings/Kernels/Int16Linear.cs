using System.Buffers;
using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels;

/// <summary>
/// The fast mode's <c>nn.functional.linear(x, weight, bias)</c> for CPU fp32 tensors: weights quantised once
/// (<see cref="Int16Weights"/>), activations per row on every call, the product on <see cref="Int16Gemm"/>. Inputs and
/// outputs stay fp32, so everything around the linear layers (embeddings, attention, LayerNorm, GELU) is unchanged.
/// </summary>
internal sealed unsafe class Int16Linear : LinearKernel
{
    private const int RowsPerQuantizeItem = 64;

    private Int16Linear(Int16Weights weights) : base(weights.OutFeatures, weights.InFeatures) => Weights = weights;

    /// <summary>The quantised weights.</summary>
    public Int16Weights Weights { get; }

    /// <summary>Whether linear layers take this path, for calls made on this thread: the model's forward switches it on
    /// for models loaded in the fast mode (a thread-local context, like <c>torch.autocast</c>).</summary>
    public static bool Active => active;

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
    public static Int16Linear? TryCreate(Tensor weight, Tensor? bias) =>
        Int16Gemm.IsSupported ? FromTensors(weight, bias, FromWeights) : null;

    /// <summary>Quantises a row-major (N × K) weight and its bias (N values, or empty) without libtorch.</summary>
    /// <param name="weight">N × K values.</param>
    /// <param name="bias">N values or none.</param>
    /// <param name="outFeatures">N.</param>
    /// <param name="inFeatures">K.</param>
    /// <returns>The layer.</returns>
    public static Int16Linear FromWeights(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures) =>
        new(Int16Weights.Pack(weight, bias, outFeatures, inFeatures));

    /// <inheritdoc/>
    protected override void Forward(float* x, int rows, float* y, int threads, bool gelu)
    {
        var w = Weights;
        int ld = 2 * w.Pairs;
        var split = new GemmSplit(rows, Int16Gemm.RowBlock, w.InFeatures, w.OutFeatures, w.Panels, threads);
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
                    Split = split,
                };
                TileWorkers.For((rows + RowsPerQuantizeItem - 1) / RowsPerQuantizeItem, split.Threads, &job, &QuantizeItem);
                TileWorkers.For(split.Items, split.Threads, &job, &GemmItem);
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
        public int K;
        public GemmSplit Split;
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
        var (t0, t1, p0, p1) = job.Split.Item(item);
        Int16Gemm.Run(in job.Problem, t0, t1, p0, p1);
    }
}

using TransformerEmbeddings.Kernels.Gemm;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels.Linear;

/// <summary>
/// The exact path's linear layer on the library's fp32 GEMM (<see cref="Sgemm"/>) with the weight packed once for the
/// table's micro-kernel: libtorch's sgemm re-packs the weight on every call (at a few rows that costs more than the
/// product) and on AMD CPUs runs MKL's generic kernel without AVX-512.
/// </summary>
internal sealed unsafe class Float32Linear : CpuLinear
{
    private readonly SgemmKernel kernel;
    private readonly WeightArena? arena;

    /// <summary>A layer over a (N, K) weight and (N) bias, packed on the first call into <paramref name="arena"/> (its own memory when null).</summary>
    public Float32Linear(Tensor weight, Tensor? bias, KernelTable table, WeightArena? arena = null) : base(weight, bias)
    {
        kernel = table.Sgemm;
        this.arena = arena;
    }

    /// <summary>A layer over weights stacked row-wise (query, key, value) and their biases, packed on the first call without storing the stack.</summary>
    public Float32Linear(IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases, KernelTable table, WeightArena? arena = null) : base(weights, biases)
    {
        kernel = table.Sgemm;
        this.arena = arena;
    }

    private Float32Linear(PackedWeights weights, SgemmKernel kernel) : base(weights, weights.OutFeatures, weights.InFeatures) => this.kernel = kernel;

    /// <summary>A layer over a row-major (N × K) weight and its bias (N values, or empty), without libtorch.</summary>
    public static Float32Linear FromWeights(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures, KernelTable table) =>
        new(PackedWeights.Pack(weight, bias, outFeatures, inFeatures, table.Sgemm.Columns), table.Sgemm);

    /// <inheritdoc/>
    public override void Prepare(int threads) => Weights(threads);

    private PackedWeights Weights(int threads) =>
        Packed((weight, bias) => PackedWeights.Pack(weight, bias, OutFeatures, InFeatures, kernel.Columns, arena, threads));

    /// <inheritdoc/>
    protected internal override void Run(float* x, int rows, float* y, int ldy, int threads, bool gelu)
    {
        var w = Weights(threads);
        float* pw = w.Packed;
        fixed (float* pb = w.Bias)
        {
            var problem = new Sgemm.Problem
            {
                X = x, LdX = InFeatures, W = pw, Bias = pb, Y = y, LdY = ldy,
                Rows = rows, K = InFeatures, N = OutFeatures, Panels = w.Panels, Gelu = gelu,
            };
            Sgemm.Multiply(in kernel, in problem, threads);
        }
    }
}

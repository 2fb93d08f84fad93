using System.Runtime.CompilerServices;
using TransformerEmbeddings.Kernels.Gemm;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels.Linear;

/// <summary>
/// The fast mode's linear layer: weights quantised once (<see cref="Int16Weights"/>), activations per row on every call,
/// the product on <see cref="Qgemm"/>. Inputs and outputs stay fp32, so everything around the linear layers
/// (embeddings, attention, LayerNorm, pooling) is the exact path's.
/// </summary>
internal sealed unsafe class Int16Linear : CpuLinear
{
    private readonly QgemmKernel kernel;
    private readonly WeightArena? arena;

    /// <summary>A layer over a (N, K) weight and (N) bias, quantised on the first call into <paramref name="arena"/> (its own memory when null).</summary>
    public Int16Linear(Tensor weight, Tensor? bias, KernelTable table, WeightArena? arena = null) : base(weight, bias)
    {
        kernel = table.Qgemm;
        this.arena = arena;
    }

    /// <summary>A layer over weights stacked row-wise (query, key, value) and their biases, packed on the first call without storing the stack.</summary>
    public Int16Linear(IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases, KernelTable table, WeightArena? arena = null) : base(weights, biases)
    {
        kernel = table.Qgemm;
        this.arena = arena;
    }

    private Int16Linear(Int16Weights weights, QgemmKernel kernel) : base(weights, weights.OutFeatures, weights.InFeatures) => this.kernel = kernel;

    /// <summary>A layer over a row-major (N × K) weight and its bias (N values, or empty), without libtorch.</summary>
    public static Int16Linear FromWeights(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures, KernelTable table) =>
        new(Int16Weights.Pack(weight, bias, outFeatures, inFeatures, table.Qgemm.Columns), table.Qgemm);

    /// <inheritdoc/>
    public override void Prepare(int threads) => Weights(threads);

    private Int16Weights Weights(int threads) =>
        Packed((weight, bias) => Int16Weights.Pack(weight, bias, OutFeatures, InFeatures, kernel.Columns, arena, threads));

    /// <inheritdoc/>
    protected override void Run(float* x, int rows, float* y, int threads, bool gelu)
    {
        var w = Weights(threads);
        // This thread's scratch, not pooled arrays: see Scratch.Quantized.
        int* q = Scratch.Quantized(checked((long)rows * w.Pairs));
        float* scales = Scratch.RowScales(rows + kernel.Rows); // the last tile reads MR scales
        fixed (float* pws = w.Scales)
        fixed (float* pb = w.Bias)
        {
            var problem = new Qgemm.Problem
            {
                X = q, XScale = scales, W = w.Packed, WScale = pws, Bias = pb, Y = y, LdY = OutFeatures,
                Rows = rows, Pairs = w.Pairs, N = OutFeatures, Panels = w.Panels, Gelu = gelu,
                Source = x, K = InFeatures, // quantised by the GEMM's own passes
            };
            Qgemm.Multiply(in kernel, in problem, threads);
        }
    }
}

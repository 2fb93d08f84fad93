using System.Runtime.CompilerServices;
using TransformerEmbeddings.Kernels.Gemm;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels.Linear;

/// <summary>
/// The fast mode's linear layer: weights quantised once (<see cref="Int16Weights"/>), activations per row on every call,
/// to 12 bits, or to 8 (<see cref="Qgemm.ByteLevels"/>) for the layers that take it; the product on <see cref="Qgemm"/>,
/// or on <see cref="Qgemm8"/> where the CPU multiplies bytes (the same bits). Inputs and outputs stay fp32, so
/// everything around the linear layers (embeddings, attention, LayerNorm, pooling) is the exact path's.
/// </summary>
internal sealed unsafe class Int16Linear : CpuLinear
{
    private readonly QgemmKernel kernel;
    private readonly WeightArena? arena;

    /// <summary>A layer over a (N, K) weight and (N) bias, quantised on the first call into <paramref name="arena"/> (its own memory when null).</summary>
    public Int16Linear(Tensor weight, Tensor? bias, KernelTable table, WeightArena? arena = null, int levels = Qgemm.Levels) : base(weight, bias)
    {
        kernel = table.Qgemm;
        this.arena = arena;
        this.levels = levels;
        bytes = levels == Qgemm.ByteLevels && table.Avx512Vnni && Qgemm8.IsAvailable;
    }

    /// <summary>A layer over weights stacked row-wise (query, key, value) and their biases, packed on the first call without storing the stack.</summary>
    public Int16Linear(IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases, KernelTable table, WeightArena? arena = null, int levels = Qgemm.Levels) : base(weights, biases)
    {
        kernel = table.Qgemm;
        this.arena = arena;
        this.levels = levels;
        bytes = levels == Qgemm.ByteLevels && table.Avx512Vnni && Qgemm8.IsAvailable;
    }

    private Int16Linear(Int16Weights weights, QgemmKernel kernel) : base(weights, weights.OutFeatures, weights.InFeatures)
    {
        this.kernel = kernel;
        levels = weights.Levels;
    }

    /// <summary>A layer over a row-major (N × K) weight and its bias (N values, or empty), without libtorch.</summary>
    public static Int16Linear FromWeights(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures, KernelTable table, int levels = Qgemm.Levels) =>
        new(Int16Weights.Pack(weight, bias, outFeatures, inFeatures, table.Qgemm.Columns, levels: levels), table.Qgemm);

    private readonly int levels;

    /// <summary>8-bit values multiplied as bytes (<see cref="Qgemm8"/>) rather than as 16-bit integers.</summary>
    private readonly bool bytes;

    /// <summary>A layer at 8 bits multiplied as bytes, as the model's kernels would where the CPU allows (tests and benchmarks, without libtorch).</summary>
    public static Int16Linear FromWeightsAsBytes(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures) =>
        new(ByteWeights.Pack(weight, bias, outFeatures, inFeatures, QgemmAvx512.Columns), outFeatures, inFeatures);

    private Int16Linear(ByteWeights weights, int outFeatures, int inFeatures) : base(weights, outFeatures, inFeatures)
    {
        kernel = QgemmAvx512Vnni.Kernel;
        levels = Qgemm.ByteLevels;
        bytes = true;
    }

    /// <summary>Whether the layer multiplies bytes (<see cref="Qgemm8"/>).</summary>
    public bool MultipliesBytes => bytes;

    /// <summary>The largest quantised magnitude of weights and activations: <see cref="Qgemm.Levels"/> or <see cref="Qgemm.ByteLevels"/>.</summary>
    public int Levels => levels;

    /// <inheritdoc/>
    public override void Prepare(int threads)
    {
        if (bytes) Bytes(threads);
        else Weights(threads);
    }

    private ByteWeights Bytes(int threads) =>
        Packed((weight, bias) => ByteWeights.Pack(weight, bias, OutFeatures, InFeatures, QgemmAvx512.Columns, arena, threads));

    private Int16Weights Weights(int threads) =>
        Packed((weight, bias) => Int16Weights.Pack(weight, bias, OutFeatures, InFeatures, kernel.Columns, arena, threads, levels));

    /// <inheritdoc/>
    protected internal override void Run(float* x, int rows, float* y, int ldy, int threads, bool gelu)
    {
        if (bytes)
        {
            RunBytes(x, rows, y, ldy, threads, gelu);
            return;
        }
        var w = Weights(threads);
        // This thread's scratch, not pooled arrays: see Scratch.Quantized.
        int* q = Scratch.Quantized(checked((long)rows * w.Pairs));
        float* scales = Scratch.RowScales(rows + kernel.Rows); // the last tile reads MR scales
        fixed (float* pws = w.Scales)
        fixed (float* pb = w.Bias)
        {
            var problem = new Qgemm.Problem
            {
                X = q, XScale = scales, W = w.Packed, WScale = pws, Bias = pb, Y = y, LdY = ldy,
                Rows = rows, Pairs = w.Pairs, N = OutFeatures, Panels = w.Panels, Gelu = gelu,
                Source = x, K = InFeatures, SourceLevels = levels, // quantised by the GEMM's own passes
            };
            Qgemm.Multiply(in kernel, in problem, threads);
        }
    }

    private void RunBytes(float* x, int rows, float* y, int ldy, int threads, bool gelu)
    {
        var w = Bytes(threads);
        var q = (byte*)Scratch.Quantized(checked((long)rows * w.Quads));
        float* scales = Scratch.RowScales(rows + QgemmAvx512.Rows);
        fixed (float* pws = w.Scales)
        fixed (float* pb = w.Bias)
        fixed (int* compensation = w.Compensation)
        {
            var problem = new Qgemm8.Problem
            {
                Source = x, K = InFeatures, X = q, XScale = scales, W = w.Packed, WScale = pws, Bias = pb, Compensation = compensation,
                Y = y, LdY = ldy, Rows = rows, Quads = w.Quads, N = OutFeatures, Panels = w.Panels, Blocks = w.Blocks, Gelu = gelu,
            };
            Qgemm8.Multiply(in problem, threads);
        }
    }
}

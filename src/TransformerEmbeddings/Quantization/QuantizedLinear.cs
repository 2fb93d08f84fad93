using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using TransformerEmbeddings.Kernels;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Quantization;

/// <summary>
/// An int8 dynamically quantised drop-in for <c>nn.functional.linear(x, weight, bias)</c> on CPU fp32 tensors:
/// weights per output channel symmetric int8 (quantised once), activations per row asymmetric u8 (quantised on every
/// call), integer GEMM by <see cref="Int8Gemm"/>, dequantisation and bias in fp32. Multithreaded over row and column
/// blocks on at most <see cref="Environment.ProcessorCount"/> threads; portable scalar code where AVX2/FMA are missing.
/// Per call it allocates only the output tensor (scratch comes from <see cref="ArrayPool{T}"/>).
/// </summary>
internal sealed unsafe class QuantizedLinear
{
    private const int RowTilesPerItem = 16;    // 64 rows of activations per work item…
    private const int PanelsPerItem = 4;       // …times 96 output channels
    private const int RowsPerQuantizeItem = 64;
    private const long SingleThreadBelowMacs = 1L << 21;

    private readonly float[] bias; // padded to the panel width, pinned
    private readonly float[]? inputScale; // 1 / smoothing, per input, pinned; null without smoothing

    private QuantizedLinear(QuantizedLinearWeights weights, ReadOnlySpan<float> bias, float[]? inputScale = null)
    {
        Weights = weights;
        this.bias = GC.AllocateArray<float>(weights.PaddedOutFeatures, pinned: true);
        bias.CopyTo(this.bias);
        this.inputScale = inputScale;
    }

    /// <summary>Whether the layer was built with per-input smoothing factors (activations are divided by them).</summary>
    public bool IsSmoothed => inputScale is not null;

    /// <summary>The quantised, packed weights.</summary>
    public QuantizedLinearWeights Weights { get; }

    /// <summary>K.</summary>
    public int InFeatures => Weights.InFeatures;

    /// <summary>N.</summary>
    public int OutFeatures => Weights.OutFeatures;

    /// <summary>The most threads a call uses (default and upper bound: <see cref="Environment.ProcessorCount"/>).</summary>
    public int MaxThreads { get; set; } = Environment.ProcessorCount;

    /// <summary>Use the AVX2 kernel where supported (tests turn it off to check the portable path).</summary>
    public bool UseSimd { get; set; } = true;

    /// <summary>Quantises a linear layer's weights: <paramref name="weight"/> (out, in), <paramref name="bias"/> (out) or null.</summary>
    /// <param name="weight">The (N, K) weight, any dtype/device (copied to fp32 CPU once).</param>
    /// <param name="bias">The (N) bias, or null.</param>
    /// <param name="scheme">The integer ranges (default <see cref="QuantizationScheme.Default"/>).</param>
    /// <returns>The quantised layer.</returns>
    public static QuantizedLinear FromWeights(Tensor weight, Tensor? bias, QuantizationScheme? scheme = null)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.dim() != 2) throw new ArgumentException($"Expected a 2-D (out, in) weight, got {weight.dim()}-D.", nameof(weight));
        int n = checked((int)weight.shape[0]), k = checked((int)weight.shape[1]);
        using var scope = NewDisposeScope();
        var w = weight.detach().to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        float[] b = new float[n];
        if (bias is not null)
        {
            if (bias.dim() != 1 || bias.shape[0] != n) throw new ArgumentException($"Expected a ({n}) bias.", nameof(bias));
            b = bias.detach().to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        }
        return FromWeights(w, b, n, k, scheme);
    }

    /// <summary>Quantises a row-major (N × K) weight matrix and its bias.</summary>
    /// <param name="weight">N × K values.</param>
    /// <param name="bias">N values, or empty for none.</param>
    /// <param name="outFeatures">N.</param>
    /// <param name="inFeatures">K.</param>
    /// <param name="scheme">The integer ranges.</param>
    /// <returns>The quantised layer.</returns>
    public static QuantizedLinear FromWeights(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures, QuantizationScheme? scheme = null)
    {
        if (!bias.IsEmpty && bias.Length != outFeatures) throw new ArgumentException($"Expected {outFeatures} bias values.", nameof(bias));
        return new QuantizedLinear(QuantizedLinearWeights.Quantize(weight, outFeatures, inFeatures, scheme), bias);
    }

    /// <summary>
    /// Quantises a linear layer after SmoothQuant-style per-input smoothing: input j's weights are multiplied by
    /// <c>s[j]</c> before quantisation and its activations divided by <c>s[j]</c> (inside the activation quantiser), so
    /// the layer still computes <c>x Wᵀ + b</c> while a channel with large activations gets a finer activation step and
    /// coarser weights. See <see cref="Smoothing"/> for data-free factors.
    /// </summary>
    /// <param name="weight">N × K values, row n holding output channel n.</param>
    /// <param name="bias">N values, or empty for none.</param>
    /// <param name="outFeatures">N.</param>
    /// <param name="inFeatures">K.</param>
    /// <param name="smoothing">K positive, finite factors s.</param>
    /// <param name="scheme">The integer ranges (default <see cref="QuantizationScheme.Default"/>).</param>
    /// <returns>The quantised layer.</returns>
    public static QuantizedLinear FromWeights(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures,
        ReadOnlySpan<float> smoothing, QuantizationScheme? scheme = null)
    {
        if (!bias.IsEmpty && bias.Length != outFeatures) throw new ArgumentException($"Expected {outFeatures} bias values.", nameof(bias));
        if (smoothing.Length != inFeatures) throw new ArgumentException($"Expected {inFeatures} smoothing factors.", nameof(smoothing));
        if (weight.Length != (long)outFeatures * inFeatures)
            throw new ArgumentException($"Expected {outFeatures} × {inFeatures} weights, got {weight.Length}.", nameof(weight));
        var inverse = GC.AllocateArray<float>(inFeatures, pinned: true);
        for (int j = 0; j < inFeatures; j++)
        {
            float s = smoothing[j];
            if (!(s > 0) || !float.IsFinite(s) || !float.IsFinite(1f / s))
                throw new ArgumentException($"Smoothing factor {j} is {s}; expected a positive finite value.", nameof(smoothing));
            inverse[j] = 1f / s;
        }
        var scaled = new float[weight.Length];
        for (int n = 0; n < outFeatures; n++)
            for (int j = 0; j < inFeatures; j++)
                scaled[n * inFeatures + j] = weight[n * inFeatures + j] * smoothing[j];
        return new QuantizedLinear(QuantizedLinearWeights.Quantize(scaled, outFeatures, inFeatures, scheme), bias, inverse);
    }

    /// <summary><c>x Wᵀ + b</c> for a CPU fp32 tensor (…, K); returns a new (…, N) fp32 tensor.</summary>
    /// <param name="x">The input.</param>
    /// <returns>The output, owned by the caller.</returns>
    public Tensor Forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dtype != ScalarType.Float32 || x.device_type != DeviceType.CPU)
            throw new ArgumentException($"Expected a CPU float32 tensor, got {x.dtype} on {x.device_type}.", nameof(x));
        if (x.dim() < 1 || x.shape[^1] != InFeatures)
            throw new ArgumentException($"Expected a last dimension of {InFeatures}, got ({string.Join(", ", x.shape)}).", nameof(x));
        var shape = (long[])x.shape.Clone();
        shape[^1] = OutFeatures;
        var y = empty(shape, ScalarType.Float32);
        int rows = checked((int)(x.NumberOfElements / InFeatures));
        if (rows == 0) return y;
        var contiguous = x.is_contiguous() ? x : x.contiguous();
        try
        {
            Forward(TensorMemory.Floats(contiguous), rows, TensorMemory.Floats(y));
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
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        if (x.Length < (long)rows * InFeatures || y.Length < (long)rows * OutFeatures) throw new ArgumentException("Buffers too small.");
        fixed (float* px = x)
        fixed (float* py = y)
            Forward(px, rows, py);
    }

    private void Forward(float* x, int rows, float* y)
    {
        var w = Weights;
        int kp = w.PaddedInFeatures;
        int tiles = (rows + Int8Gemm.RowBlock - 1) / Int8Gemm.RowBlock;
        int paddedRows = tiles * Int8Gemm.RowBlock;
        long macs = (long)rows * w.InFeatures * w.OutFeatures;
        int threads = macs < SingleThreadBelowMacs ? 1 : Math.Clamp(MaxThreads, 1, TileWorkers.MaxThreads);

        byte[] a = ArrayPool<byte>.Shared.Rent(paddedRows * kp);
        float[] scales = ArrayPool<float>.Shared.Rent(rows);
        int[] zeros = ArrayPool<int>.Shared.Rent(rows);
        try
        {
            fixed (byte* pa = a)
            fixed (float* ps = scales)
            fixed (int* pz = zeros)
            fixed (sbyte* pw = w.Packed)
            fixed (float* psw = w.Scales)
            fixed (int* pcs = w.ColumnSums)
            fixed (float* pb = bias)
            fixed (float* pm = inputScale)
            {
                new Span<byte>(pa + (long)rows * kp, (paddedRows - rows) * kp).Clear();
                var job = new Job
                {
                    X = x,
                    Threads = threads,
                    RowTileChunks = (tiles + RowTilesPerItem - 1) / RowTilesPerItem,
                    PanelChunks = (w.Panels + PanelsPerItem - 1) / PanelsPerItem,
                    Tiles = tiles,
                    Panels = w.Panels,
                    K = w.InFeatures,
                    ActivationMax = w.Scheme.ActivationMax,
                    InputScale = pm,
                    Problem = new Int8Gemm.Problem
                    {
                        A = pa, W = pw, Rows = rows, Columns = w.OutFeatures, KGroups = w.KGroups,
                        RowScales = ps, RowZeros = pz, ColumnScales = psw, ColumnSums = pcs, Bias = pb, Y = y,
                        Simd = UseSimd,
                    },
                };
                TileWorkers.For((rows + RowsPerQuantizeItem - 1) / RowsPerQuantizeItem, threads, &job, &QuantizeItem);
                TileWorkers.For(job.RowTileChunks * job.PanelChunks, threads, &job, &GemmItem);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(a);
            ArrayPool<float>.Shared.Return(scales);
            ArrayPool<int>.Shared.Return(zeros);
        }
    }

    private struct Job
    {
        public float* X;
        public int Threads, RowTileChunks, PanelChunks, Tiles, Panels, K, ActivationMax;
        public float* InputScale;
        public Int8Gemm.Problem Problem;
    }

    private static void QuantizeItem(void* context, int item)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        ref var p = ref job.Problem;
        int start = item * RowsPerQuantizeItem, end = Math.Min(p.Rows, start + RowsPerQuantizeItem);
        ActivationQuantizer.QuantizeRows(job.X, job.K, start, end, job.ActivationMax, p.A, p.KGroups * 4, p.RowScales, p.RowZeros, p.Simd, job.InputScale);
    }

    private static void GemmItem(void* context, int item)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        // Row-chunk major: consecutive items share a block of activations.
        int rowChunk = item / job.PanelChunks, panelChunk = item % job.PanelChunks;
        int t0 = rowChunk * RowTilesPerItem, p0 = panelChunk * PanelsPerItem;
        Int8Gemm.Run(in job.Problem, t0, Math.Min(job.Tiles, t0 + RowTilesPerItem), p0, Math.Min(job.Panels, p0 + PanelsPerItem));
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels;

/// <summary>
/// <c>LayerNorm(x + residual)</c> over the last dimension, computed in place in <c>x</c> for CPU fp32 tensors: BERT's
/// "add and norm" after each sub-layer as one pass over rows that are still in cache, instead of two libtorch calls
/// (libtorch's layer_norm alone costs ~23 µs per call at 16 × 384). Two-pass mean and variance per row, as HF.
/// </summary>
internal static unsafe class ResidualLayerNorm
{
    private const int RowsPerItem = 64;

    /// <summary>Whether <see cref="ApplyInPlace"/> can take these tensors.</summary>
    public static bool Accepts(Tensor x, Tensor residual, Tensor weight) =>
        x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32 && x.is_contiguous()
        && residual.device_type == DeviceType.CPU && residual.dtype == ScalarType.Float32 && residual.is_contiguous()
        && weight.device_type == DeviceType.CPU && weight.dtype == ScalarType.Float32
        && x.NumberOfElements == residual.NumberOfElements && x.dim() >= 1 && x.shape[^1] == weight.shape[0];

    /// <summary>Overwrites <paramref name="x"/> with <c>LayerNorm(x + residual)</c> and returns it.</summary>
    /// <param name="x">(…, H) contiguous; overwritten.</param>
    /// <param name="residual">(…, H) contiguous.</param>
    /// <param name="weight">γ (H).</param>
    /// <param name="bias">β (H).</param>
    /// <param name="eps">Added to the variance.</param>
    /// <param name="isa">The vector width to use.</param>
    /// <returns><paramref name="x"/>.</returns>
    public static Tensor ApplyInPlace(Tensor x, Tensor residual, Tensor weight, Tensor bias, double eps, InstructionSet isa)
    {
        int h = checked((int)x.shape[^1]);
        int rows = checked((int)(x.NumberOfElements / h));
        using var w = weight.contiguous();
        using var b = bias.contiguous();
        var job = new Job
        {
            X = TensorMemory.Floats(x), Residual = TensorMemory.Floats(residual), Weight = TensorMemory.Floats(w), Bias = TensorMemory.Floats(b),
            Rows = rows, H = h, Eps = (float)eps, Lanes = Lanes(isa, h),
        };
        int items = (rows + RowsPerItem - 1) / RowsPerItem;
        TileWorkers.For(items, (long)rows * h < (1L << 17) ? 1 : get_num_threads(), &job, &Item);
        return x;
    }

    private struct Job
    {
        public float* X, Residual, Weight, Bias;
        public int Rows, H;
        public float Eps;
        public int Lanes;
    }

    /// <summary>The vector width a row of <paramref name="h"/> values takes: 16 (two chains of 16 lanes, whole 32-value
    /// steps), 8, or 1 (scalar, sums in double).</summary>
    internal static int Lanes(InstructionSet isa, int h) =>
        isa == InstructionSet.Avx512 && h % 32 == 0 ? 16 : isa >= InstructionSet.Avx2 && h % 8 == 0 ? 8 : 1;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Item(void* context, int item)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        int h = job.H, end = Math.Min(job.Rows, (item + 1) * RowsPerItem);
        for (int r = item * RowsPerItem; r < end; r++)
        {
            float* x = job.X + (long)r * h, res = job.Residual + (long)r * h;
            if (job.Lanes == 16) Row512(x, res, job.Weight, job.Bias, h, job.Eps);
            else if (job.Lanes == 8) Row256(x, res, job.Weight, job.Bias, h, job.Eps);
            else RowScalar(x, res, job.Weight, job.Bias, h, job.Eps);
        }
    }

    /// <summary>
    /// A row at 16 lanes in two independent chains (one vaddps or FMA chain of 48 steps per pass was latency-bound:
    /// ~420 cycles a 384-row at 8 lanes).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row512(float* x, float* res, float* weight, float* bias, int h, float eps)
    {
        Vector512<float> s0 = Vector512<float>.Zero, s1 = Vector512<float>.Zero;
        for (int j = 0; j < h; j += 32)
        {
            var v0 = Avx512F.Add(Avx512F.LoadVector512(x + j), Avx512F.LoadVector512(res + j));
            var v1 = Avx512F.Add(Avx512F.LoadVector512(x + j + 16), Avx512F.LoadVector512(res + j + 16));
            Avx512F.Store(x + j, v0);
            Avx512F.Store(x + j + 16, v1);
            s0 = Avx512F.Add(s0, v0);
            s1 = Avx512F.Add(s1, v1);
        }
        Normalize512(x, Avx512F.Add(s0, s1), weight, bias, h, eps);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row256(float* x, float* res, float* weight, float* bias, int h, float eps)
    {
        var sum = Vector256<float>.Zero;
        for (int j = 0; j < h; j += 8)
        {
            var v = Avx.Add(Avx.LoadVector256(x + j), Avx.LoadVector256(res + j));
            Avx.Store(x + j, v);
            sum = Avx.Add(sum, v);
        }
        Normalize256(x, sum, weight, bias, h, eps);
    }

    private static void RowScalar(float* x, float* res, float* weight, float* bias, int h, float eps)
    {
        // Sums in double: one float accumulator over hundreds of values drifts further than the vector version's eight.
        double sum = 0;
        for (int j = 0; j < h; j++) sum += x[j] = x[j] + res[j];
        NormalizeScalar(x, sum, weight, bias, h, eps);
    }

    /// <summary>LayerNorm of one row in place (no residual): the same arithmetic as the rows above after their addition.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void NormalizeRow(float* x, float* weight, float* bias, int h, float eps, int lanes)
    {
        if (lanes == 16)
        {
            Vector512<float> s0 = Vector512<float>.Zero, s1 = Vector512<float>.Zero;
            for (int j = 0; j < h; j += 32)
            {
                s0 = Avx512F.Add(s0, Avx512F.LoadVector512(x + j));
                s1 = Avx512F.Add(s1, Avx512F.LoadVector512(x + j + 16));
            }
            Normalize512(x, Avx512F.Add(s0, s1), weight, bias, h, eps);
            return;
        }
        if (lanes == 8)
        {
            var sum = Vector256<float>.Zero;
            for (int j = 0; j < h; j += 8) sum = Avx.Add(sum, Avx.LoadVector256(x + j));
            Normalize256(x, sum, weight, bias, h, eps);
            return;
        }
        double total = 0;
        for (int j = 0; j < h; j++) total += x[j];
        NormalizeScalar(x, total, weight, bias, h, eps);
    }

    /// <summary>Two-pass variance from the row's sum (16 lanes, two chains), then γ · x̂ + β in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Normalize512(float* x, Vector512<float> sum, float* weight, float* bias, int h, float eps)
    {
        var mean = Vector512.Create(Vector512.Sum(sum) / h);
        Vector512<float> q0 = Vector512<float>.Zero, q1 = Vector512<float>.Zero;
        for (int j = 0; j < h; j += 32)
        {
            var d0 = Avx512F.Subtract(Avx512F.LoadVector512(x + j), mean);
            var d1 = Avx512F.Subtract(Avx512F.LoadVector512(x + j + 16), mean);
            q0 = Avx512F.FusedMultiplyAdd(d0, d0, q0);
            q1 = Avx512F.FusedMultiplyAdd(d1, d1, q1);
        }
        var inverse = Vector512.Create(1f / MathF.Sqrt(Vector512.Sum(Avx512F.Add(q0, q1)) / h + eps));
        for (int j = 0; j < h; j += 16)
        {
            var normalized = Avx512F.Multiply(Avx512F.Subtract(Avx512F.LoadVector512(x + j), mean), inverse);
            Avx512F.Store(x + j, Avx512F.FusedMultiplyAdd(normalized, Avx512F.LoadVector512(weight + j), Avx512F.LoadVector512(bias + j)));
        }
    }

    /// <summary>Two-pass variance from the row's sum (eight lanes), then γ · x̂ + β in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Normalize256(float* x, Vector256<float> sum, float* weight, float* bias, int h, float eps)
    {
        var mean = Vector256.Create(Vector256.Sum(sum) / h);
        var squares = Vector256<float>.Zero;
        for (int j = 0; j < h; j += 8)
        {
            var d = Avx.Subtract(Avx.LoadVector256(x + j), mean);
            squares = Fma.MultiplyAdd(d, d, squares);
        }
        var inverse = Vector256.Create(1f / MathF.Sqrt(Vector256.Sum(squares) / h + eps));
        for (int j = 0; j < h; j += 8)
        {
            var normalized = Avx.Multiply(Avx.Subtract(Avx.LoadVector256(x + j), mean), inverse);
            Avx.Store(x + j, Fma.MultiplyAdd(normalized, Avx.LoadVector256(weight + j), Avx.LoadVector256(bias + j)));
        }
    }

    /// <summary>The same from a sum in double, one value at a time.</summary>
    private static void NormalizeScalar(float* x, double sum, float* weight, float* bias, int h, float eps)
    {
        float mean = (float)(sum / h);
        double squares = 0;
        for (int j = 0; j < h; j++) squares += (double)(x[j] - mean) * (x[j] - mean);
        float inverse = 1f / MathF.Sqrt((float)(squares / h) + eps);
        for (int j = 0; j < h; j++) x[j] = MathF.FusedMultiplyAdd((x[j] - mean) * inverse, weight[j], bias[j]);
    }
}

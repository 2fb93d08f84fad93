using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using TransformerEmbeddings.Kernels.Gemm;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels.Attention;

/// <summary>
/// The attention core for CPU fp32, one work item per (batch, head): read straight from the fused QKV projection and
/// written straight into merged heads, <c>softmax(q·kᵀ / √d + bias + mask) · v</c>, HF's eager formula. Both products run on
/// the table's narrow GEMM micro-kernel with the head's keys and values packed like weights. For sentences libtorch's
/// SDPA and the permute and merge copies around it cost 3–5× the arithmetic (1×16 tokens: 0.04 vs 0.11–0.20 ms per
/// layer). Probabilities are written out and the head mask applied when the probe asks, in the same pass.
/// </summary>
internal sealed unsafe class CpuAttention(int heads, int headDim, KernelTable table) : AttentionKernel
{
    /// <summary>The longest sequence this kernel takes (its per-thread score matrix is S × S floats); longer ones go to libtorch.</summary>
    public const int MaxLength = 2048;

    private readonly TorchAttention fallback = new(heads, headDim);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor qkv, Tensor? additiveMask, Tensor? scoreBias, AttentionProbe? probe)
    {
        if (qkv.device_type != DeviceType.CPU || qkv.dtype != ScalarType.Float32 || qkv.dim() != 3 || qkv.shape[1] > MaxLength
            || (additiveMask is not null && (additiveMask.dtype != ScalarType.Float32 || additiveMask.device_type != DeviceType.CPU))
            || (scoreBias is not null && (scoreBias.dtype != ScalarType.Float32 || scoreBias.device_type != DeviceType.CPU)))
            return fallback.Forward(qkv, additiveMask, scoreBias, probe);
        int b = checked((int)qkv.shape[0]), s = checked((int)qkv.shape[1]), h = heads * headDim;
        if (qkv.shape[2] != 3 * h) throw new ArgumentException($"Expected (B, S, {3 * h}), got ({string.Join(", ", qkv.shape)}).", nameof(qkv));
        var biasPerRow = scoreBias is not null && PerRow(scoreBias, b, heads, s);
        var y = empty(b, s, h);
        var probabilities = probe is { WantsProbabilities: true } ? empty(b, heads, s, s) : null;
        if (probe is not null) probe.Probabilities = probabilities;
        if (b * s == 0) return y;
        var p = qkv.is_contiguous() ? qkv : qkv.contiguous();
        var m = additiveMask is null ? null : additiveMask.is_contiguous() ? additiveMask : additiveMask.contiguous();
        var bias = scoreBias is null ? null : scoreBias.is_contiguous() ? scoreBias : scoreBias.contiguous();
        using var headMask = probe?.HeadMask?.to(ScalarType.Float32).cpu().contiguous();
        try
        {
            var job = new Job
            {
                Projected = TensorMemory.Floats(p), Mask = m is null ? null : TensorMemory.Floats(m), Output = TensorMemory.Floats(y),
                Bias = bias is null ? null : TensorMemory.Floats(bias), BiasPerRow = biasPerRow,
                Probabilities = probabilities is null ? null : TensorMemory.Floats(probabilities),
                HeadMask = headMask is null ? null : TensorMemory.Floats(headMask),
                Length = s, Heads = heads, HeadDim = headDim, Divisor = MathF.Sqrt(headDim), Kernel = table.NarrowSgemm,
            };
            long work = (long)b * heads * s * s * headDim;
            TileWorkers.For(b * heads, work < (1L << 16) ? 1 : get_num_threads(), &job, &Item);
        }
        finally
        {
            if (!ReferenceEquals(p, qkv)) p.Dispose();
            if (m is not null && !ReferenceEquals(m, additiveMask)) m.Dispose();
            if (bias is not null && !ReferenceEquals(bias, scoreBias)) bias.Dispose();
        }
        return y;
    }

    private struct Job
    {
        public float* Projected, Mask, Output, Probabilities, HeadMask, Bias;
        public bool BiasPerRow;
        public int Length, Heads, HeadDim;
        public float Divisor;
        public SgemmKernel Kernel;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Item(void* context, int item)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        int s = job.Length, d = job.HeadDim, nh = job.Heads, hidden = nh * d, stride = 3 * hidden, nr = job.Kernel.Columns;
        int batch = item / nh, head = item % nh;
        int width = (s + nr - 1) / nr * nr;                      // keys padded to whole panels
        int valueWidth = (d + nr - 1) / nr * nr;                  // value channels padded to whole panels
        float* rows = job.Projected + (long)batch * s * stride;
        float* mask = job.Mask is null ? null : job.Mask + (long)batch * s;
        float* bias = job.Bias is null ? null : job.Bias + (job.BiasPerRow ? (long)batch * nh + head : head) * (long)s * s;

        float* keys = Scratch.Attention((long)d * width + (long)s * valueWidth + (long)s * width + Math.Max(width, valueWidth));
        float* values = keys + (long)d * width;                   // values[(c / NR) · S · NR + j · NR + c % NR] = v_j[c]
        float* scores = values + (long)s * valueWidth;            // S × width
        float* zeros = scores + (long)s * width;
        new Span<float>(zeros, Math.Max(width, valueWidth)).Clear();
        for (int j = 0; j < width; j++)                           // keys[(j / NR) · d · NR + c · NR + j % NR] = k_j[c]
        {
            float* key = rows + (long)j * stride + hidden + head * d;
            float* panel = keys + (long)(j / nr) * d * nr + j % nr;
            for (int c = 0; c < d; c++) panel[c * nr] = j < s ? key[c] : 0f;
        }
        for (int j = 0; j < s; j++)
        {
            float* value = rows + (long)j * stride + 2 * hidden + head * d;
            for (int c = 0; c < valueWidth; c += nr)
            {
                float* dst = values + (long)c * s + j * nr;
                int n = Math.Min(nr, d - c);
                new ReadOnlySpan<float>(value + c, n).CopyTo(new Span<float>(dst, n));
                if (n < nr) new Span<float>(dst + n, nr - n).Clear();
            }
        }

        // scores = q · kᵀ   (S × width; the zero keys of the last panel are masked out below)
        var qk = new Sgemm.Problem { X = rows + head * d, LdX = stride, W = keys, Bias = zeros, Y = scores, LdY = width, Rows = s, K = d, N = width, Panels = width / nr };
        Sgemm.Run(in job.Kernel, in qk, 0, s, 0, qk.Panels);

        float scale = job.HeadMask is null ? 1f : job.HeadMask[head];
        float* probabilities = job.Probabilities is null ? null : job.Probabilities + ((long)batch * nh + head) * s * s;
        for (int i = 0; i < s; i++)
        {
            float* row = scores + (long)i * width;
            Softmax(row, s, width, bias is null ? null : bias + (long)i * s, mask, job.Divisor, job.Kernel.Isa);
            if (job.HeadMask is not null)
                for (int j = 0; j < s; j++) row[j] *= scale;
            if (probabilities is not null) new ReadOnlySpan<float>(row, s).CopyTo(new Span<float>(probabilities + (long)i * s, s));
        }

        // context = p · v, written into this head's columns of the merged output
        var pv = new Sgemm.Problem
        {
            X = scores, LdX = width, W = values, Bias = zeros, Y = job.Output + (long)batch * s * hidden + head * d, LdY = hidden,
            Rows = s, K = s, N = d, Panels = valueWidth / nr,
        };
        Sgemm.Run(in job.Kernel, in pv, 0, s, 0, pv.Panels);
    }

    /// <summary>A row of scores → probabilities: divide, add the bias and the mask (HF's order), −∞ on the padding past S, then exp(x − max) / Σ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Softmax(float* row, int s, int width, float* bias, float* mask, float divisor, InstructionSet isa)
    {
        int j = 0;
        if (isa >= InstructionSet.Avx2)
        {
            var div = Vector256.Create(divisor);
            for (; j + 8 <= s; j += 8)
            {
                var v = Avx.Divide(Avx.LoadVector256(row + j), div);
                if (bias is not null) v = Avx.Add(v, Avx.LoadVector256(bias + j));
                Avx.Store(row + j, mask is null ? v : Avx.Add(v, Avx.LoadVector256(mask + j)));
            }
        }
        for (; j < s; j++)
        {
            var v = row[j] / divisor;
            if (bias is not null) v += bias[j];
            row[j] = mask is null ? v : v + mask[j];
        }
        for (; j < width; j++) row[j] = float.NegativeInfinity;
        if (isa == InstructionSet.Avx512 && width % 16 == 0)
        {
            var max16 = Vector512.Create(float.NegativeInfinity);
            for (j = 0; j < width; j += 16) max16 = Avx512F.Max(max16, Avx512F.LoadVector512(row + j));
            var top16 = Vector512.Create(VectorMath.HorizontalMax(Avx.Max(max16.GetLower(), max16.GetUpper())));
            var total16 = Vector512<float>.Zero;
            for (j = 0; j < width; j += 16)
            {
                var e = VectorMath.Exp(Avx512F.Subtract(Avx512F.LoadVector512(row + j), top16));
                Avx512F.Store(row + j, e);
                total16 = Avx512F.Add(total16, e);
            }
            var sum16 = Vector512.Create(Vector512.Sum(total16));
            for (j = 0; j < width; j += 16) Avx512F.Store(row + j, Avx512F.Divide(Avx512F.LoadVector512(row + j), sum16));
            return;
        }
        if (isa >= InstructionSet.Avx2 && width % 8 == 0)
        {
            var max = Vector256.Create(float.NegativeInfinity);
            for (j = 0; j < width; j += 8) max = Avx.Max(max, Avx.LoadVector256(row + j));
            var top = Vector256.Create(VectorMath.HorizontalMax(max));
            var total = Vector256<float>.Zero;
            for (j = 0; j < width; j += 8)
            {
                var e = VectorMath.Exp(Avx.Subtract(Avx.LoadVector256(row + j), top));
                Avx.Store(row + j, e);
                total = Avx.Add(total, e);
            }
            var sum = Vector256.Create(Vector256.Sum(total));
            for (j = 0; j < width; j += 8) Avx.Store(row + j, Avx.Divide(Avx.LoadVector256(row + j), sum));
            return;
        }
        float m = float.NegativeInfinity;
        double z = 0; // one float accumulator over hundreds of keys drifts further than the vector version's eight
        for (j = 0; j < width; j++) m = row[j] > m ? row[j] : m;
        for (j = 0; j < width; j++) z += row[j] = VectorMath.Exp(row[j] - m);
        float denominator = (float)z;
        for (j = 0; j < width; j++) row[j] /= denominator;
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using TransformerEmbeddings.Kernels.Gemm;
using TransformerEmbeddings.Kernels.Linear;
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
        if (!Computes(qkv, additiveMask, scoreBias)) return fallback.Forward(qkv, additiveMask, scoreBias, probe);
        int h = heads * headDim;
        if (qkv.shape[2] != 3 * h) throw new ArgumentException($"Expected (B, S, {3 * h}), got ({string.Join(", ", qkv.shape)}).", nameof(qkv));
        var p = qkv.is_contiguous() ? qkv : qkv.contiguous();
        try
        {
            return Attend(p, projection: null, null, additiveMask, scoreBias, probe);
        }
        finally
        {
            if (!ReferenceEquals(p, qkv)) p.Dispose();
        }
    }

    /// <summary>
    /// The projection and the attention a few sequences at a time (about <see cref="GroupRows"/> tokens): each group's
    /// query, key and value are read by its attention items while the product has just left them in L2, where the whole
    /// batch's projection (megabytes) would be read back from L3 or memory, head by head (cold, an item costs twice as
    /// much). Rows are projected independently, so the numbers are those of one product over the batch.
    /// </summary>
    public override Tensor Forward(Tensor x, LinearKernel projection, Tensor? additiveMask, Tensor? scoreBias, AttentionProbe? probe,
        bool keepProjections, out Tensor? projections)
    {
        int h = heads * headDim;
        if (projection is not CpuLinear linear || linear.OutFeatures != 3 * h || x.dim() != 3 || x.shape[2] != linear.InFeatures
            || !Computes(x, additiveMask, scoreBias))
            return base.Forward(x, projection, additiveMask, scoreBias, probe, keepProjections, out projections);
        var input = x.is_contiguous() ? x : x.contiguous();
        try
        {
            projections = keepProjections ? TensorMemory.Output([x.shape[0], x.shape[1], 3 * h]) : null;
            return Attend(projections, linear, input, additiveMask, scoreBias, probe);
        }
        finally
        {
            if (!ReferenceEquals(input, x)) input.Dispose();
        }
    }

    /// <summary>Tokens per group of sequences projected and attended together: the product's row block (<see cref="GemmSplit.RowsPerItem"/>),
    /// so its weights stream past the group once and nothing of the group's projection is evicted before it is read.</summary>
    internal const int GroupRows = GemmSplit.RowsPerItem;

    /// <summary>Whether this kernel takes the call: CPU fp32, (B, S, ·) with S ≤ <see cref="MaxLength"/>, masks alike.</summary>
    private static bool Computes(Tensor t, Tensor? additiveMask, Tensor? scoreBias) =>
        t.device_type == DeviceType.CPU && t.dtype == ScalarType.Float32 && t.dim() == 3 && t.shape[1] <= MaxLength
        && (additiveMask is null || (additiveMask.dtype == ScalarType.Float32 && additiveMask.device_type == DeviceType.CPU))
        && (scoreBias is null || (scoreBias.dtype == ScalarType.Float32 && scoreBias.device_type == DeviceType.CPU));

    /// <summary>
    /// The attention over a contiguous (B, S, 3H) projection — given (<paramref name="projection"/> null), or made here
    /// from <paramref name="x"/> group by group into <paramref name="qkv"/> (kept) or, when null, a scratch of one group.
    /// </summary>
    private Tensor Attend(Tensor? qkv, CpuLinear? projection, Tensor? x, Tensor? additiveMask, Tensor? scoreBias, AttentionProbe? probe)
    {
        var source = qkv ?? x!;
        int b = checked((int)source.shape[0]), s = checked((int)source.shape[1]), h = heads * headDim, stride = 3 * h;
        var biasPerRow = scoreBias is not null && PerRow(scoreBias, b, heads, s);
        var y = TensorMemory.Output([b, s, h]);
        var probabilities = probe is { WantsProbabilities: true } ? empty(b, heads, s, s) : null;
        if (probe is not null) probe.Probabilities = probabilities;
        if (b * s == 0) return y;
        var m = additiveMask is null ? null : additiveMask.is_contiguous() ? additiveMask : additiveMask.contiguous();
        var bias = scoreBias is null ? null : scoreBias.is_contiguous() ? scoreBias : scoreBias.contiguous();
        using var headMask = probe?.HeadMask?.to(ScalarType.Float32).cpu().contiguous();
        try
        {
            var job = new Job
            {
                Mask = m is null ? null : TensorMemory.Floats(m), Output = TensorMemory.Floats(y),
                Bias = bias is null ? null : TensorMemory.Floats(bias), BiasPerRow = biasPerRow,
                Probabilities = probabilities is null ? null : TensorMemory.Floats(probabilities),
                HeadMask = headMask is null ? null : TensorMemory.Floats(headMask),
                Length = s, Heads = heads, HeadDim = headDim, Divisor = MathF.Sqrt(headDim), Kernel = table.NarrowSgemm,
                ScoreKernel = s <= table.FewKeysSgemm.Columns ? table.FewKeysSgemm : table.NarrowSgemm,
            };
            float* all = qkv is null ? null : TensorMemory.Floats(qkv);
            int threads = get_num_threads();
            if (projection is null)
            {
                job.Projected = all;
                Run(ref job, 0, b, threads);
                return y;
            }
            // A group's projection goes straight into the kept tensor, or into this thread's scratch.
            int group = Math.Clamp(GroupRows * threads / s, 1, b); // each thread a row block of the product
            float* scratch = all is null ? Scratch.Projections((long)group * s * stride) : null;
            float* input = TensorMemory.Floats(x!);
            for (int g0 = 0; g0 < b; g0 += group)
            {
                int count = Math.Min(group, b - g0), rows = count * s;
                float* projected = all is null ? scratch : all + (long)g0 * s * stride;
                projection.Forward(new ReadOnlySpan<float>(input + (long)g0 * s * projection.InFeatures, rows * projection.InFeatures),
                    new Span<float>(projected, rows * stride), rows, threads);
                job.Projected = projected - (long)g0 * s * stride; // items index the whole batch
                Run(ref job, g0, count, threads);
            }
        }
        finally
        {
            if (m is not null && !ReferenceEquals(m, additiveMask)) m.Dispose();
            if (bias is not null && !ReferenceEquals(bias, scoreBias)) bias.Dispose();
        }
        return y;
    }

    /// <summary>Runs the items of sequences [first, first + count).</summary>
    private void Run(ref Job job, int first, int count, int threads)
    {
        long work = (long)count * heads * job.Length * job.Length * headDim;
        job.FirstItem = first * heads;
        fixed (Job* state = &job)
            TileWorkers.For(count * heads, work < (1L << 16) ? 1 : threads, state, &GroupItem);
    }

    private static void GroupItem(void* context, int item) => Item(context, ((Job*)context)->FirstItem + item);

    private struct Job
    {
        public float* Projected, Mask, Output, Probabilities, HeadMask, Bias;
        public bool BiasPerRow;
        public int Length, Heads, HeadDim;
        /// <summary>The first item of the sequences being run (a group's).</summary>
        public int FirstItem;
        public float Divisor;
        public SgemmKernel Kernel;
        /// <summary>The scores' kernel: <see cref="KernelTable.FewKeysSgemm"/> when the keys fit its width (no zero keys multiplied).</summary>
        public SgemmKernel ScoreKernel;
    }

    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)] // its stackalloc is written before it is read
    private static void Item(void* context, int item)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        int s = job.Length, d = job.HeadDim, nh = job.Heads, hidden = nh * d, stride = 3 * hidden, nr = job.Kernel.Columns, keyNr = job.ScoreKernel.Columns;
        int batch = item / nh, head = item % nh;
        int width = (s + keyNr - 1) / keyNr * keyNr;             // keys padded to whole panels
        int valueWidth = (d + nr - 1) / nr * nr;                  // value channels padded to whole panels
        float* rows = job.Projected + (long)batch * s * stride;
        float* mask = job.Mask is null ? null : job.Mask + (long)batch * s;
        float* bias = job.Bias is null ? null : job.Bias + (job.BiasPerRow ? (long)batch * nh + head : head) * (long)s * s;

        // Query rows go in blocks whose scores (block × width) stay in L1 between q·kᵀ, the softmax and p·v, instead of
        // one S × S matrix streamed through memory three times (bert-base 8×512: 1 MB per head). The problems keep all S
        // rows, so every value is summed in the same order as with one block: the same bits.
        int block = BlockRows(s, width, job.Kernel.Rows);
        float* keys = Scratch.Attention((long)d * width + 8 + (long)s * valueWidth + (long)block * width + Math.Max(width, valueWidth) + s + width);
        float* values = keys + (long)d * width + 8;               // (8: the packing's slack) values[(c / NR) · S · NR + j · NR + c % NR] = v_j[c]
        float* scores = values + (long)s * valueWidth;            // block × width
        float* zeros = scores + (long)block * width;
        new Span<float>(zeros, Math.Max(width, valueWidth)).Clear();
        float* rowScales = zeros + Math.Max(width, valueWidth);   // 1 / Σ exp per query row, times the head mask
        // The mask over the whole padded row, −∞ past S: every query row adds it as whole vectors (no tail copy per row),
        // and the keys past S drop out of the softmax (the zero keys' scores plus −∞).
        float* keyMask = rowScales + s;
        for (int j = 0; j < s; j++) keyMask[j] = mask is null ? 0f : mask[j];
        for (int j = s; j < width; j++) keyMask[j] = float.NegativeInfinity;
        // keys[(j / NR) · d · NR + c · NR + j % NR] = k_j[c]: the keys' panels are the activation-panel layout of the key rows
        ActivationPanels.Pack(rows + hidden + head * d, stride, s, 0, d, keyNr, keys);
        for (int j = 0; j < s; j++)
        {
            float* value = rows + (long)j * stride + 2 * hidden + head * d;
            for (int c = 0; c < valueWidth; c += nr)
                CopyPadded(value + c, values + (long)c * s + j * nr, Math.Min(nr, d - c), nr);
        }

        float headScale = job.HeadMask is null ? 1f : job.HeadMask[head];
        float* tail = stackalloc float[16]; // the score bias's last values, zero-padded (here: a method with stackalloc is never inlined)
        float* probabilities = job.Probabilities is null ? null : job.Probabilities + ((long)batch * nh + head) * s * s;
        float* output = job.Output + (long)batch * s * hidden + head * d;
        for (int i0 = 0; i0 < s; i0 += block)
        {
            int i1 = Math.Min(s, i0 + block);
            float* window = scores - (long)i0 * width; // row i of the scores lives at window + i · width for i in [i0, i1)

            // scores = q · kᵀ   (rows i0..i1 of S × width; the zero keys of the last panel are masked out below)
            var qk = new Sgemm.Problem { X = rows + head * d, LdX = stride, W = keys, Bias = zeros, Y = window, LdY = width, Rows = s, K = d, N = width, Panels = width / keyNr };
            Sgemm.Run(in job.ScoreKernel, in qk, i0, i1, 0, qk.Panels);

            if (job.Kernel.Isa == InstructionSet.Avx512 && bias is null && probabilities is null && s <= ShortRowKeys)
                ShortRows512(window, width, i0, i1, s, keyMask, job.Divisor, headScale, rowScales);
            else
            for (int i = i0; i < i1; i++)
            {
                float* row = window + (long)i * width;
                // 1 / Σ exp times the head mask, applied to the context row below (d values instead of S); probabilities are a
                // scaled copy, so capturing them leaves the computation, and its bits, as they are.
                rowScales[i] = headScale / Exponentials(row, s, bias is null ? null : bias + (long)i * s, keyMask, job.Divisor, job.Kernel.Isa, tail);
                if (probabilities is not null) Scale(row, probabilities + (long)i * s, s, rowScales[i], job.Kernel.Isa);
            }

            // context = p · v, written into this head's columns of the merged output
            var pv = new Sgemm.Problem
            {
                X = window, LdX = width, W = values, Bias = zeros, Y = output, LdY = hidden,
                Rows = s, K = s, N = d, Panels = valueWidth / nr,
            };
            Sgemm.Run(in job.Kernel, in pv, i0, i1, 0, pv.Panels);
            for (int i = i0; i < i1; i++) Scale(output + (long)i * hidden, output + (long)i * hidden, d, rowScales[i], job.Kernel.Isa);
        }
    }

    /// <summary>
    /// Query rows per block: whole row tiles whose scores fit in 32 KB, an L1 (all S rows when they do). The softmax
    /// reads and writes each row twice between the two products: from L1 rather than L2 (a 256 KB budget before) it made
    /// bert-base's 8×512 attention 7 % faster, S = 512 with 32-wide heads 13 % (Zen 5), while p · v re-reads the values per
    /// block from L2 at no measurable cost.
    /// </summary>
    internal static int BlockRows(int length, int width, int tileRows)
    {
        const int Budget = 32 * 1024 / sizeof(float);
        if ((long)length * width <= Budget) return length;
        return Math.Max(tileRows, Budget / width / tileRows * tileRows);
    }

    /// <summary>
    /// A row of scores → its exponentials, unnormalised: divide, add the score bias and the mask, then exp(x − max) over
    /// the S real keys. Returns their sum; the caller divides, once per output row when only the context is wanted (d
    /// values instead of S). <paramref name="mask"/> covers the row's whole vectors, −∞ past S (the item builds it once):
    /// the vector forms run the last, partial group of keys as a whole vector whose keys past S are −∞ (their exponentials
    /// are 0), so a sentence's odd length costs no scalar exp: the row has room, as it is padded to whole panels of keys,
    /// and those lanes are never read after. The scalar form sums in double.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Exponentials(float* row, int s, float* bias, float* mask, float divisor, InstructionSet isa, float* tail)
    {
        if (isa == InstructionSet.Avx512) return Exponentials512(row, s, bias, mask, divisor, tail);
        if (isa == InstructionSet.Avx2) return Exponentials256(row, s, bias, mask, divisor, tail);
        float m = float.NegativeInfinity;
        for (int j = 0; j < s; j++)
        {
            var v = row[j] / divisor;
            if (bias is not null) v += bias[j];
            v += mask[j];
            row[j] = v;
            m = v > m ? v : m;
        }
        double z = 0; // one float accumulator over hundreds of keys drifts
        for (int j = 0; j < s; j++) z += row[j] = VectorMath.Exp(row[j] - m);
        return (float)z;
    }

    // Not inlined into Item, whose register pressure (with the bias's call in the same loop) kept each value on the stack.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Exponentials512(float* row, int s, float* bias, float* mask, float divisor, float* tail)
    {
        var max = bias is null ? Scaled512(row, s, mask, divisor) : ScaledBiased512(row, s, bias, mask, divisor, tail);
        var top = Vector512.Create(VectorMath.HorizontalMax(Avx.Max(max.GetLower(), max.GetUpper())));
        var total = Vector512<float>.Zero;
        for (int j = 0; j < s; j += 16)
        {
            var e = VectorMath.Exp(Avx512F.Subtract(Avx512F.LoadVector512(row + j), top));
            Avx512F.Store(row + j, e);
            total = Avx512F.Add(total, e);
        }
        return Vector512.Sum(total);
    }

    /// <summary>The row divided and masked in place; returns the lane-wise maximum. A loop of its own, without a call in
    /// reach: sharing a method with the score bias's loop (whose tail copy calls out) made the JIT keep the running
    /// maximum on the stack, a store and reload on every vector's dependency chain.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Scaled512(float* row, int s, float* mask, float divisor)
    {
        var div = Vector512.Create(divisor);
        var max = Vector512.Create(float.NegativeInfinity);
        for (int j = 0; j < s; j += 16)
        {
            var v = Avx512F.Add(Avx512F.Divide(Avx512F.LoadVector512(row + j), div), Avx512F.LoadVector512(mask + j));
            Avx512F.Store(row + j, v);
            max = Avx512F.Max(max, v);
        }
        return max;
    }

    /// <summary><see cref="Scaled512"/> with the score bias added after the division.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static Vector512<float> ScaledBiased512(float* row, int s, float* bias, float* mask, float divisor, float* tail)
    {
        // The score bias row ends at S: its last values through a zero-padded copy, made before the loop (the copy's
        // call inside it made the JIT keep the loop's values on the stack).
        int whole = s / 16 * 16;
        float* last = whole < s ? Tail(bias + whole, s - whole, tail, 16) : null;
        var div = Vector512.Create(divisor);
        var max = Vector512.Create(float.NegativeInfinity);
        for (int j = 0; j < s; j += 16) max = ScaledBiased(row + j, j < whole ? bias + j : last, mask + j, div, max);
        return max;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ScaledBiased(float* row, float* bias, float* mask, Vector512<float> div, Vector512<float> max)
    {
        var v = Avx512F.Add(Avx512F.Add(Avx512F.Divide(Avx512F.LoadVector512(row), div), Avx512F.LoadVector512(bias)), Avx512F.LoadVector512(mask));
        Avx512F.Store(row, v);
        return Avx512F.Max(max, v);
    }

    /// <summary>
    /// <see cref="Exponentials512"/> for rows of at most 64 keys (a sentence), without a score bias: each row's one to four
    /// vectors in straight-line code, so the division, mask and exp constants are loaded once for all the rows instead of
    /// once per row and loop, and one row's chain of max, exp and sum overlaps the next row's. The same operations in the
    /// same order: the same bits.
    /// </summary>
    private static void ShortRows512(float* window, int width, int i0, int i1, int s, float* mask, float divisor, float headScale, float* rowScales)
    {
        if (s <= 16) ShortRows512<One>(window, width, i0, i1, mask, divisor, headScale, rowScales);
        else if (s <= 32) ShortRows512<Two>(window, width, i0, i1, mask, divisor, headScale, rowScales);
        else if (s <= 48) ShortRows512<Three>(window, width, i0, i1, mask, divisor, headScale, rowScales);
        else ShortRows512<Four>(window, width, i0, i1, mask, divisor, headScale, rowScales);
    }

    /// <summary>The longest rows <see cref="ShortRows512"/> takes.</summary>
    private const int ShortRowKeys = 64;

    /// <summary>Vectors per score row, as a type: the JIT compiles one straight-line softmax per count.</summary>
    private interface IVectors
    {
        static abstract int Count { get; }
    }

    private struct One : IVectors { public static int Count => 1; }

    private struct Two : IVectors { public static int Count => 2; }

    private struct Three : IVectors { public static int Count => 3; }

    private struct Four : IVectors { public static int Count => 4; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ShortRows512<TVectors>(float* window, int width, int i0, int i1, float* mask, float divisor, float headScale, float* rowScales)
        where TVectors : struct, IVectors
    {
        int n = TVectors.Count;
        var div = Vector512.Create(divisor);
        var mask0 = Avx512F.LoadVector512(mask);
        var mask1 = n > 1 ? Avx512F.LoadVector512(mask + 16) : default;
        var mask2 = n > 2 ? Avx512F.LoadVector512(mask + 32) : default;
        var mask3 = n > 3 ? Avx512F.LoadVector512(mask + 48) : default;
        for (int i = i0; i < i1; i++)
        {
            float* row = window + (long)i * width;
            var v0 = Avx512F.Add(Avx512F.Divide(Avx512F.LoadVector512(row), div), mask0);
            var max = v0;
            Vector512<float> v1 = default, v2 = default, v3 = default;
            if (n > 1) max = Avx512F.Max(max, v1 = Avx512F.Add(Avx512F.Divide(Avx512F.LoadVector512(row + 16), div), mask1));
            if (n > 2) max = Avx512F.Max(max, v2 = Avx512F.Add(Avx512F.Divide(Avx512F.LoadVector512(row + 32), div), mask2));
            if (n > 3) max = Avx512F.Max(max, v3 = Avx512F.Add(Avx512F.Divide(Avx512F.LoadVector512(row + 48), div), mask3));
            var top = Vector512.Create(VectorMath.HorizontalMax(Avx.Max(max.GetLower(), max.GetUpper())));
            var e = VectorMath.Exp(Avx512F.Subtract(v0, top));
            Avx512F.Store(row, e);
            var total = Avx512F.Add(Vector512<float>.Zero, e);
            if (n > 1)
            {
                e = VectorMath.Exp(Avx512F.Subtract(v1, top));
                Avx512F.Store(row + 16, e);
                total = Avx512F.Add(total, e);
            }
            if (n > 2)
            {
                e = VectorMath.Exp(Avx512F.Subtract(v2, top));
                Avx512F.Store(row + 32, e);
                total = Avx512F.Add(total, e);
            }
            if (n > 3)
            {
                e = VectorMath.Exp(Avx512F.Subtract(v3, top));
                Avx512F.Store(row + 48, e);
                total = Avx512F.Add(total, e);
            }
            rowScales[i] = headScale / Vector512.Sum(total);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Exponentials256(float* row, int s, float* bias, float* mask, float divisor, float* tail)
    {
        var max = bias is null ? Scaled256(row, s, mask, divisor) : ScaledBiased256(row, s, bias, mask, divisor, tail);
        var top = Vector256.Create(VectorMath.HorizontalMax(max));
        var total = Vector256<float>.Zero;
        for (int j = 0; j < s; j += 8)
        {
            var e = VectorMath.Exp(Avx.Subtract(Avx.LoadVector256(row + j), top));
            Avx.Store(row + j, e);
            total = Avx.Add(total, e);
        }
        return Vector256.Sum(total);
    }

    /// <inheritdoc cref="Scaled512"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scaled256(float* row, int s, float* mask, float divisor)
    {
        var div = Vector256.Create(divisor);
        var max = Vector256.Create(float.NegativeInfinity);
        for (int j = 0; j < s; j += 8)
        {
            var v = Avx.Add(Avx.Divide(Avx.LoadVector256(row + j), div), Avx.LoadVector256(mask + j));
            Avx.Store(row + j, v);
            max = Avx.Max(max, v);
        }
        return max;
    }

    /// <inheritdoc cref="ScaledBiased512"/>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static Vector256<float> ScaledBiased256(float* row, int s, float* bias, float* mask, float divisor, float* tail)
    {
        // The score bias row ends at S: its last values through a zero-padded copy, made before the loop (the copy's
        // call inside it made the JIT keep the loop's values on the stack).
        int whole = s / 8 * 8;
        float* last = whole < s ? Tail(bias + whole, s - whole, tail, 8) : null;
        var div = Vector256.Create(divisor);
        var max = Vector256.Create(float.NegativeInfinity);
        for (int j = 0; j < s; j += 8) max = ScaledBiased(row + j, j < whole ? bias + j : last, mask + j, div, max);
        return max;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ScaledBiased(float* row, float* bias, float* mask, Vector256<float> div, Vector256<float> max)
    {
        var v = Avx.Add(Avx.Add(Avx.Divide(Avx.LoadVector256(row), div), Avx.LoadVector256(bias)), Avx.LoadVector256(mask));
        Avx.Store(row, v);
        return Avx.Max(max, v);
    }

    /// <summary>The last n (&lt; lanes) values of a row copied into a zeroed buffer of one vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* Tail(float* values, int n, float* buffer, int lanes)
    {
        new Span<float>(buffer, lanes).Clear();
        new ReadOnlySpan<float>(values, n).CopyTo(new Span<float>(buffer, n));
        return buffer;
    }

    /// <summary>n (≤ width) floats copied, then zeros up to width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyPadded(float* src, float* dst, int n, int width)
    {
        int c = 0;
        for (; c + 16 <= n; c += 16) Vector512.Store(Vector512.Load(src + c), dst + c);
        for (; c + 8 <= n; c += 8) Vector256.Store(Vector256.Load(src + c), dst + c);
        for (; c < n; c++) dst[c] = src[c];
        for (; c < width; c++) dst[c] = 0f;
    }

    /// <summary>y = factor · x over n floats (y may be x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scale(float* x, float* y, int n, float factor, InstructionSet isa)
    {
        int j = 0;
        if (isa == InstructionSet.Avx512)
        {
            var f16 = Vector512.Create(factor);
            for (; j + 16 <= n; j += 16) Avx512F.Store(y + j, Avx512F.Multiply(Avx512F.LoadVector512(x + j), f16));
        }
        if (isa >= InstructionSet.Avx2)
        {
            var f = Vector256.Create(factor);
            for (; j + 8 <= n; j += 8) Avx.Store(y + j, Avx.Multiply(Avx.LoadVector256(x + j), f));
        }
        for (; j < n; j++) y[j] = x[j] * factor;
    }
}

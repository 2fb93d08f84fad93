using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// The fast mode's GEMM driver, the same for every instruction set: <c>Y[m, n] = sx[m] · sw[n] · Σₖ qx[m, k] · qw[n, k]
/// + b[n]</c> with activations quantised per row (<see cref="Quantize(float*, int, short*, int, float*, int)"/>) and weights
/// per output channel (<see cref="Int16Weights"/>) to 12-bit integers (8-bit for the layers that take it:
/// <see cref="ByteLevels"/>). 12 bits rather than 8 because MiniLM's residual stream carries outlier channels ~20× the
/// rest: 8-bit weights and activations in the value, feed-forward or every layer cost up to 1 % of cosine, 12 bits about
/// 1e-5. Exact 32-bit sums are flushed to fp32 every <see cref="KBlockPairs"/> pairs, before they could overflow.
/// </summary>
internal static unsafe class Qgemm
{
    /// <summary>The largest quantised magnitude (12-bit symmetric).</summary>
    public const int Levels = 2047;

    /// <summary>
    /// The largest quantised magnitude of the layers that take 8 bits (symmetric): attention's query and output
    /// projections, whose errors the softmax and the residual add dilute (docs/performance.md, "The int8 study"). Their
    /// values still fit the 12-bit kernels, so every instruction set gives the same bits; AVX512-VNNI multiplies them
    /// as bytes, at twice the rate (<see cref="Qgemm8"/>).
    /// </summary>
    public const int ByteLevels = 127;

    /// <summary>Input pairs per exact integer sum: 192 · 2 · 2047² &lt; 2³¹.</summary>
    public const int KBlockPairs = 192;

    /// <summary>One GEMM's operands; pointers stay valid for the call.</summary>
    internal struct Problem
    {
        /// <summary>The quantised activations, <see cref="Rows"/> × <see cref="Pairs"/> 32-bit pairs.</summary>
        public int* X;
        /// <summary>Each activation row's scale (readable up to <see cref="Rows"/> + MR).</summary>
        public float* XScale;
        /// <summary>The packed weights (<see cref="Int16Weights.Packed"/>).</summary>
        public short* W;
        /// <summary>Each output channel's scale, padded to whole panels.</summary>
        public float* WScale;
        /// <summary>The bias, padded to whole panels.</summary>
        public float* Bias;
        /// <summary>The output, <see cref="Rows"/> × <see cref="N"/>, row stride <see cref="LdY"/>.</summary>
        public float* Y;
        /// <summary>Floats between rows of <see cref="Y"/>.</summary>
        public int LdY;
        /// <summary>M.</summary>
        public int Rows;
        /// <summary>K / 2, rounded up.</summary>
        public int Pairs;
        /// <summary>N.</summary>
        public int N;
        /// <summary>⌈N / NR⌉.</summary>
        public int Panels;
        /// <summary>Apply the GELU to the finished outputs (the fast mode's, <see cref="Epilogue.GeluFast"/>).</summary>
        public bool Gelu;
        /// <summary>X already packed for every item (<see cref="Multiply"/> packs it once when several items share rows), or null.</summary>
        public float* PackedX;
        /// <summary>
        /// The fp32 activations (<see cref="Rows"/> × <see cref="K"/>) when <see cref="X"/> is still to be filled: each block
        /// of rows is quantised by the item that owns it while it is in cache, or, when several items share the rows, by a
        /// pass of its own before them. Null when X is already quantised.
        /// </summary>
        public float* Source;
        /// <summary>K of <see cref="Source"/> (floats between its rows).</summary>
        public int K;
        /// <summary>The largest quantised magnitude of <see cref="Source"/>'s rows: <see cref="Levels"/> or <see cref="ByteLevels"/>.</summary>
        public int SourceLevels;
    }

    /// <summary>Runs the whole product on up to <paramref name="threads"/> threads.</summary>
    public static void Multiply(in QgemmKernel kernel, in Problem p, int threads)
    {
        var job = new Job { Kernel = kernel, Problem = p, Split = new GemmSplit(p.Rows, kernel.Rows, 2 * p.Pairs, p.N, p.Panels, threads) };
        if (job.Split.PanelChunks == 1)
        {
            TileWorkers.For(job.Split.Items, job.Split.Threads, &job, &Item);
            return;
        }
        if (kernel.MultiplyRows != null)
        {
            // Read in place: several items share each block of rows, so the rows are quantised once, first.
            if (p.Source is not null) TileWorkers.For(job.Split.RowChunks, job.Split.Threads, &job, &QuantizeItem);
            job.Problem.Source = null;
            TileWorkers.For(job.Split.Items, job.Split.Threads, &job, &Item);
            return;
        }
        // Several items share each block of rows: pack X once for all of them instead of once per item.
        var buffer = System.Buffers.ArrayPool<float>.Shared.Rent(checked((int)PackedSize(kernel.Rows, p.Rows, p.Pairs)));
        try
        {
            fixed (float* packed = buffer)
            {
                job.Problem.PackedX = packed;
                if (p.Source is not null) TileWorkers.For(job.Split.RowChunks, job.Split.Threads, &job, &QuantizeItem);
                job.Problem.Source = null;
                TileWorkers.For(job.Split.RowChunks * KBlocks(p.Pairs), job.Split.Threads, &job, &PackItem);
                TileWorkers.For(job.Split.Items, job.Split.Threads, &job, &Item);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(buffer);
        }
    }

    private static int KBlocks(int pairs) => (pairs + KBlockPairs - 1) / KBlockPairs;

    private static long PackedSize(int mr, int rows, int pairs) => (long)(rows + mr - 1) / mr * mr * pairs + 8;

    /// <summary>Where tile <paramref name="tile"/>'s panel of the k-block starting at pair <paramref name="q0"/> (pc wide) lies in a whole packed X.</summary>
    private static float* PackedTile(float* packed, int mr, int rows, int q0, int pc, int tile) =>
        packed + (long)(rows + mr - 1) / mr * mr * q0 + (long)tile * mr * pc;

    private static void PackItem(void* context, int item)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        ref var p = ref job.Problem;
        int mr = job.Kernel.Rows;
        int chunk = item % job.Split.RowChunks, q0 = item / job.Split.RowChunks * KBlockPairs, pc = Math.Min(KBlockPairs, p.Pairs - q0);
        var (r0, r1) = job.Split.RowRange(chunk);
        ActivationPanels.Pack((float*)(p.X + (long)r0 * p.Pairs), p.Pairs, r1 - r0, q0, pc, mr, PackedTile(p.PackedX, mr, p.Rows, q0, pc, r0 / mr));
    }

    private static void QuantizeItem(void* context, int chunk)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        var (r0, r1) = job.Split.RowRange(chunk);
        QuantizeRows(in job.Problem, r0, r1);
    }

    private static void QuantizeRows(in Problem p, int r0, int r1)
    {
        for (int r = r0; r < r1; r++)
            Quantize(p.Source + (long)r * p.K, p.K, (short*)(p.X + (long)r * p.Pairs), p.Pairs, p.XScale + r, p.SourceLevels);
    }

    /// <summary>Computes rows [<paramref name="r0"/>, <paramref name="r1"/>) × panels [<paramref name="p0"/>, <paramref name="p1"/>) on this thread.</summary>
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)] // its stackalloc is written before it is read
    public static void Run(in QgemmKernel kernel, in Problem p, int r0, int r1, int p0, int p1)
    {
        int mr = kernel.Rows, nr = kernel.Columns, rows = r1 - r0;
        if (rows <= 0) return;
        // Without a packing pass every row chunk has one item (Multiply), so it quantises its own rows.
        if (p.PackedX is null && p.Source is not null) QuantizeRows(in p, r0, r1);
        bool inPlace = kernel.MultiplyRows != null && p.PackedX is null;
        int* panels = p.PackedX is null && !inPlace ? (int*)Scratch.Panels(ActivationPanels.Size(rows, Math.Min(KBlockPairs, p.Pairs), mr)) : null;
        float* edge = stackalloc float[mr * nr];
        for (int q0 = 0; q0 < p.Pairs; q0 += KBlockPairs)
        {
            int pc = Math.Min(KBlockPairs, p.Pairs - q0);
            bool first = q0 == 0, last = q0 + pc >= p.Pairs;
            if (p.PackedX is not null) panels = (int*)PackedTile(p.PackedX, mr, p.Rows, q0, pc, r0 / mr);
            else if (!inPlace) ActivationPanels.Pack((float*)(p.X + (long)r0 * p.Pairs), p.Pairs, rows, q0, pc, mr, (float*)panels);
            for (int panel = p0; panel < p1; panel++)
            {
                short* w = p.W + ((long)panel * p.Pairs + q0) * 2 * nr;
                int col = panel * nr, cols = Math.Min(nr, p.N - col);
                float* bias = first ? p.Bias + col : null;
                for (int t = 0; t < rows; t += mr)
                {
                    int n = Math.Min(mr, rows - t);
                    int* a = inPlace ? p.X + (long)(r0 + t) * p.Pairs + q0 : panels + (long)t * pc;
                    float* y = p.Y + (long)(r0 + t) * p.LdY + col;
                    float* scales = p.XScale + r0 + t;
                    if (cols == nr) Tile(kernel, inPlace, a, p.Pairs, w, pc, y, p.LdY, n, scales, p.WScale + col, bias);
                    else
                    {
                        if (bias is null)
                            for (int i = 0; i < n; i++) new ReadOnlySpan<float>(y + (long)i * p.LdY, cols).CopyTo(new Span<float>(edge + i * nr, cols));
                        Tile(kernel, inPlace, a, p.Pairs, w, pc, edge, nr, n, scales, p.WScale + col, bias);
                        for (int i = 0; i < n; i++) new ReadOnlySpan<float>(edge + i * nr, cols).CopyTo(new Span<float>(y + (long)i * p.LdY, cols));
                    }
                    if (last && p.Gelu) Epilogue.GeluFast(y, p.LdY, n, cols, kernel.Isa);
                }
            }
        }
    }

    /// <summary>One tile: <paramref name="a"/> is a packed panel, or the tile's first row in place (rows <paramref name="lda"/> pairs apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile(in QgemmKernel kernel, bool inPlace, int* a, int lda, short* w, int pc, float* y, int ldy, int rows, float* rowScales, float* colScales, float* bias)
    {
        if (inPlace) kernel.MultiplyRows(a, lda, w, pc, y, ldy, rows, rowScales, colScales, bias);
        else kernel.Multiply(a, w, pc, y, ldy, rows, rowScales, colScales, bias);
    }

    /// <summary>Quantises one row (<see cref="Quantize(float*, int, short*, int, float*, int)"/>) into q (2·⌈K/2⌉ values).</summary>
    /// <returns>The row's scale: NaN when it holds a NaN or infinity.</returns>
    public static float Quantize(ReadOnlySpan<float> x, Span<short> q, int levels = Levels)
    {
        int pairs = (x.Length + 1) / 2;
        if (q.Length < 2 * pairs) throw new ArgumentException($"Expected room for {2 * pairs} values.", nameof(q));
        float scale;
        fixed (float* px = x)
        fixed (short* pq = q)
            Quantize(px, x.Length, pq, pairs, &scale, levels);
        return scale;
    }

    /// <summary>
    /// Quantises a row of fp32 activations to ±<paramref name="levels"/> with one scale per row (largest |x| / levels,
    /// rounded to nearest even), writing 2·pairs shorts (a zero pads an odd K). A row holding a NaN or infinity gets a NaN
    /// scale and zeros, so its outputs stay non-finite as in fp32 instead of turning into garbage integers.
    /// </summary>
    public static void Quantize(float* x, int k, short* q, int pairs, float* scale, int levels = Levels)
    {
        float max = MaxMagnitude(x, k);
        float inverse = max > 0 && float.IsFinite(max) ? levels / max : 0;
        *scale = float.IsFinite(max) ? max / levels : float.NaN;
        Scale(x, k, inverse, q);
        for (int i = k; i < 2 * pairs; i++) q[i] = 0;
    }

    /// <summary>The largest |x| of a row, NaN when it holds a NaN (the same whatever the order or width).</summary>
    internal static float MaxMagnitude(float* x, int k)
    {
        int i = 0;
        float max = 0;
        bool nan = false;
        // maxps drops NaNs: they are tracked apart. The largest |x| is the same whatever the order or width.
        if (Avx512F.IsSupported)
        {
            var absMask = Vector512.Create(0x7FFFFFFF).AsSingle();
            var max16 = Vector512<float>.Zero;
            var nan16 = Vector512<float>.Zero;
            // Two vectors a step: two independent max chains (vmaxps waits for the previous result).
            var max16b = Vector512<float>.Zero;
            for (; i + 32 <= k; i += 32)
            {
                var v = Avx512F.LoadVector512(x + i);
                var w = Avx512F.LoadVector512(x + i + 16);
                max16 = Avx512F.Max(max16, Vector512.BitwiseAnd(v, absMask));
                max16b = Avx512F.Max(max16b, Vector512.BitwiseAnd(w, absMask));
                nan16 = Vector512.BitwiseOr(nan16, Vector512.BitwiseOr(Avx512F.CompareUnordered(v, v), Avx512F.CompareUnordered(w, w)));
            }
            max16 = Avx512F.Max(max16, max16b);
            for (; i + 16 <= k; i += 16)
            {
                var v = Avx512F.LoadVector512(x + i);
                max16 = Avx512F.Max(max16, Vector512.BitwiseAnd(v, absMask));
                nan16 = Vector512.BitwiseOr(nan16, Avx512F.CompareUnordered(v, v));
            }
            nan = nan16 != Vector512<float>.Zero;
            max = VectorMath.HorizontalMax(Avx.Max(max16.GetLower(), max16.GetUpper()));
        }
        if (Avx2.IsSupported)
        {
            var absMask = Vector256.Create(0x7FFFFFFF).AsSingle();
            var max8 = Vector256.Create(max);
            var nan8 = Vector256<float>.Zero;
            for (; i + 8 <= k; i += 8)
            {
                var v = Avx.LoadVector256(x + i);
                max8 = Avx.Max(max8, Avx.And(v, absMask));
                nan8 = Avx.Or(nan8, Avx.CompareUnordered(v, v));
            }
            nan |= Avx.MoveMask(nan8) != 0;
            max = VectorMath.HorizontalMax(max8);
        }
        for (; i < k; i++)
        {
            nan |= float.IsNaN(x[i]);
            max = MathF.Max(max, MathF.Abs(x[i]));
        }
        return nan ? float.NaN : max;
    }

    /// <summary>q[i] = x[i] · inverse rounded to nearest even, saturated to 16 bits.</summary>
    private static void Scale(float* x, int k, float inverse, short* q)
    {
        int i = 0;
        if (Avx512F.IsSupported)
        {
            // vpmovsdw saturates as packssdw does: the same shorts as the 8-lane loop, in order.
            var inv16 = Vector512.Create(inverse);
            for (; i + 16 <= k; i += 16)
                Avx.Store(q + i, Avx512F.ConvertToVector256Int16WithSaturation(Avx512F.ConvertToVector512Int32(Avx512F.Multiply(Avx512F.LoadVector512(x + i), inv16))));
        }
        if (Avx2.IsSupported)
        {
            var inv8 = Vector256.Create(inverse);
            for (; i + 16 <= k; i += 16)
            {
                var lo = Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(x + i), inv8));
                var hi = Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(x + i + 8), inv8));
                // packssdw works per 128-bit lane: put the quarters back in order.
                Avx.Store(q + i, Avx2.Permute4x64(Avx2.PackSignedSaturate(lo, hi).AsInt64(), 0b11_01_10_00).AsInt16());
            }
        }
        for (; i < k; i++) q[i] = (short)MathF.Round(x[i] * inverse, MidpointRounding.ToEven);
    }

    private struct Job
    {
        public QgemmKernel Kernel;
        public Problem Problem;
        public GemmSplit Split;
    }

    private static void Item(void* context, int item)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        var (r0, r1, p0, p1) = job.Split.Item(item);
        Run(in job.Kernel, in job.Problem, r0, r1, p0, p1);
    }
}

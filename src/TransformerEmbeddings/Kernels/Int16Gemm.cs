using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Kernels;

/// <summary>
/// The fast mode's GEMM: <c>Y[m, n] = sx[m] · sw[n] · Σₖ qx[m, k] · qw[n, k] + b[n]</c> with activations quantised per
/// row and weights per output channel to 12-bit integers (<see cref="Levels"/>), multiplied in pairs by AVX2's
/// <c>vpmaddwd</c> (16 multiply-adds per instruction against 8 for an fp32 FMA; ~1.55× the fp32 micro-kernel measured on
/// an AVX2-only EPYC) into exact 32-bit sums. 12 bits rather than 8 because MiniLM's residual stream carries outlier
/// channels ~20× the rest: 8-bit weights or activations cost up to 1 % of cosine, 12 bits about 1e-5.
/// Sums are flushed to fp32 every <see cref="KBlockPairs"/> pairs, before they could overflow.
/// </summary>
internal static unsafe class Int16Gemm
{
    /// <summary>The largest quantised magnitude (12-bit symmetric).</summary>
    public const int Levels = 2047;

    /// <summary>Output channels per packed weight panel (two AVX vectors of 32-bit sums).</summary>
    public const int PanelWidth = 16;

    /// <summary>Rows per micro-kernel tile.</summary>
    public const int RowBlock = 6;

    /// <summary>Input pairs per exact integer sum: 192 · 2 · 2047² &lt; 2³¹.</summary>
    public const int KBlockPairs = 192;

    // Shorts ahead in the weight stream to prefetch (4 KB).
    private const int PrefetchDistance = 2048;

    /// <summary>Whether the kernel can run on this CPU.</summary>
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>One GEMM's operands; pointers stay valid for the call.</summary>
    internal struct Problem
    {
        /// <summary>The quantised activations, <see cref="Rows"/> × 2·<see cref="Pairs"/> (<see cref="Quantize(float*, int, short*, int, float*)"/>).</summary>
        public short* X;
        /// <summary>Each activation row's scale.</summary>
        public float* XScale;
        /// <summary>The packed weights (<see cref="Int16Weights.Packed"/>).</summary>
        public short* W;
        /// <summary>Each output channel's scale, padded to the panel width.</summary>
        public float* WScale;
        /// <summary>The bias, padded to the panel width.</summary>
        public float* Bias;
        /// <summary>The output, <see cref="Rows"/> × <see cref="N"/>, row-major.</summary>
        public float* Y;
        /// <summary>M.</summary>
        public int Rows;
        /// <summary>K / 2, rounded up.</summary>
        public int Pairs;
        /// <summary>N.</summary>
        public int N;
        /// <summary>Apply the exact GELU to the finished outputs.</summary>
        public bool Gelu;
    }

    /// <summary>Quantises one row (<see cref="Quantize(float*, int, short*, int, float*)"/>) into q (2·⌈K/2⌉ values).</summary>
    /// <returns>The row's scale: NaN when it holds a NaN or infinity.</returns>
    public static float Quantize(ReadOnlySpan<float> x, Span<short> q)
    {
        int pairs = (x.Length + 1) / 2;
        if (q.Length < 2 * pairs) throw new ArgumentException($"Expected room for {2 * pairs} values.", nameof(q));
        float scale;
        fixed (float* px = x)
        fixed (short* pq = q)
            Quantize(px, x.Length, pq, pairs, &scale);
        return scale;
    }

    /// <summary>
    /// Quantises a row of fp32 activations to ±<see cref="Levels"/> with one scale per row (largest |x| / 2047, rounded
    /// to nearest), writing 2·pairs shorts per row (a zero pads an odd K).
    /// </summary>
    public static void Quantize(float* x, int k, short* q, int pairs, float* scale)
    {
        int i = 0;
        var absMask = Vector256.Create(0x7FFFFFFF).AsSingle();
        var max8 = Vector256<float>.Zero;
        var nan8 = Vector256<float>.Zero; // maxps drops NaNs: track them apart
        for (; i + 8 <= k; i += 8)
        {
            var v = Avx.LoadVector256(x + i);
            max8 = Avx.Max(max8, Avx.And(v, absMask));
            nan8 = Avx.Or(nan8, Avx.CompareUnordered(v, v));
        }
        float max = Avx.MoveMask(nan8) != 0 ? float.NaN : VectorMath.HorizontalMax(max8);
        for (; i < k; i++) max = float.IsNaN(x[i]) ? float.NaN : MathF.Max(max, MathF.Abs(x[i]));
        // A non-finite input stays non-finite in the output (as in fp32) instead of turning into garbage integers.
        float inverse = max > 0 && float.IsFinite(max) ? Levels / max : 0;
        *scale = float.IsFinite(max) ? max / Levels : float.NaN;
        var inv8 = Vector256.Create(inverse);
        i = 0;
        for (; i + 16 <= k; i += 16)
        {
            var lo = Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(x + i), inv8));
            var hi = Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(x + i + 8), inv8));
            // packssdw works per 128-bit lane: put the quarters back in order.
            var packed = Avx2.Permute4x64(Avx2.PackSignedSaturate(lo, hi).AsInt64(), 0b11_01_10_00).AsInt16();
            Avx.Store(q + i, packed);
        }
        for (; i < k; i++) q[i] = (short)MathF.Round(x[i] * inverse);
        for (; i < 2 * pairs; i++) q[i] = 0;
    }

    /// <summary>Computes row tiles [<paramref name="tileStart"/>, <paramref name="tileEnd"/>) × panels [<paramref name="panelStart"/>, <paramref name="panelEnd"/>).</summary>
    public static void Run(in Problem p, int tileStart, int tileEnd, int panelStart, int panelEnd)
    {
        // Panel-major: a panel's weights stream once, sequentially, and its k-block slice (12 KB) stays in L1 across tiles.
        for (int panel = panelStart; panel < panelEnd; panel++)
        {
            int col = panel * PanelWidth;
            for (int p0 = 0; p0 < p.Pairs; p0 += KBlockPairs)
            {
                int pc = Math.Min(KBlockPairs, p.Pairs - p0);
                bool first = p0 == 0, gelu = p.Gelu && p0 + pc >= p.Pairs;
                short* w = p.W + ((long)panel * p.Pairs + p0) * 2 * PanelWidth;
                for (int tile = tileStart; tile < tileEnd; tile++)
                {
                    int row = tile * RowBlock;
                    Tile(in p, row, Math.Min(RowBlock, p.Rows - row), col, Math.Min(PanelWidth, p.N - col), w, p0, pc, first, gelu);
                }
            }
        }
    }

    private static void Tile(in Problem p, int row, int rows, int col, int cols, short* w, int p0, int pc, bool first, bool gelu)
    {
        int ldx = 2 * p.Pairs;
        short* x = p.X + (long)row * ldx + 2 * p0;
        float* scales = stackalloc float[RowBlock];
        for (int i = 0; i < RowBlock; i++) scales[i] = p.XScale[row + (i < rows ? i : 0)];
        if (rows == RowBlock && cols == PanelWidth)
        {
            Kernel(x, ldx, rows, w, pc, p.Y + (long)row * p.N + col, p.N, scales, p.WScale + col, first ? p.Bias + col : null, gelu);
            return;
        }
        // Edges: a full tile into a stack buffer (missing rows re-read row 0), then copy what exists.
        float* tile = stackalloc float[RowBlock * PanelWidth];
        float* zero = stackalloc float[PanelWidth];
        new Span<float>(zero, PanelWidth).Clear();
        Kernel(x, ldx, rows, w, pc, tile, PanelWidth, scales, p.WScale + col, zero, gelu: false);
        for (int i = 0; i < rows; i++)
        {
            float* dst = p.Y + (long)(row + i) * p.N + col;
            for (int j = 0; j < cols; j++)
            {
                float v = first ? tile[i * PanelWidth + j] + p.Bias[col + j] : dst[j] + tile[i * PanelWidth + j];
                dst[j] = gelu ? VectorMath.Gelu(Vector256.Create(v)).ToScalar() : v;
            }
        }
    }

    /// <summary>
    /// One 6 × 16 tile over pc input pairs: <c>y = bias + s · Σ</c> when <paramref name="bias"/> is given, else
    /// <c>y += s · Σ</c>, with s the row scale times the channel scale.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel(short* x, int ldx, int rows, short* w, int pc, float* y, int ldy, float* rowScales, float* colScales, float* bias, bool gelu)
    {
        int* x0 = (int*)x;
        int* x1 = (int*)(rows > 1 ? x + ldx : x);
        int* x2 = (int*)(rows > 2 ? x + 2 * ldx : x);
        int* x3 = (int*)(rows > 3 ? x + 3 * ldx : x);
        int* x4 = (int*)(rows > 4 ? x + 4 * ldx : x);
        int* x5 = (int*)(rows > 5 ? x + 5 * ldx : x);
        Vector256<int> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<int> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int k = 0; k < pc; k++)
        {
            var b0 = Avx.LoadVector256(w);
            var b1 = Avx.LoadVector256(w + 16);
            Sse.Prefetch0(w + PrefetchDistance);
            w += 2 * PanelWidth;
            var a = Avx2.BroadcastScalarToVector256(x0 + k).AsInt16();
            c00 = MultiplyAdd(c00, a, b0); c01 = MultiplyAdd(c01, a, b1);
            a = Avx2.BroadcastScalarToVector256(x1 + k).AsInt16();
            c10 = MultiplyAdd(c10, a, b0); c11 = MultiplyAdd(c11, a, b1);
            a = Avx2.BroadcastScalarToVector256(x2 + k).AsInt16();
            c20 = MultiplyAdd(c20, a, b0); c21 = MultiplyAdd(c21, a, b1);
            a = Avx2.BroadcastScalarToVector256(x3 + k).AsInt16();
            c30 = MultiplyAdd(c30, a, b0); c31 = MultiplyAdd(c31, a, b1);
            a = Avx2.BroadcastScalarToVector256(x4 + k).AsInt16();
            c40 = MultiplyAdd(c40, a, b0); c41 = MultiplyAdd(c41, a, b1);
            a = Avx2.BroadcastScalarToVector256(x5 + k).AsInt16();
            c50 = MultiplyAdd(c50, a, b0); c51 = MultiplyAdd(c51, a, b1);
        }
        var s0 = Avx.LoadVector256(colScales);
        var s1 = Avx.LoadVector256(colScales + 8);
        Flush(y, c00, c01, rowScales[0], s0, s1, bias, gelu);
        Flush(y + ldy, c10, c11, rowScales[1], s0, s1, bias, gelu);
        Flush(y + 2 * ldy, c20, c21, rowScales[2], s0, s1, bias, gelu);
        Flush(y + 3 * ldy, c30, c31, rowScales[3], s0, s1, bias, gelu);
        Flush(y + 4 * ldy, c40, c41, rowScales[4], s0, s1, bias, gelu);
        Flush(y + 5 * ldy, c50, c51, rowScales[5], s0, s1, bias, gelu);
    }

    /// <summary><c>c + a₀b₀ + a₁b₁</c> per 32-bit lane: one <c>vpdpwssd</c> where AVX-VNNI exists (Alder Lake and later; .NET 10 builds),
    /// else <c>vpmaddwd</c> + <c>vpaddd</c>; the same integers either way.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> MultiplyAdd(Vector256<int> c, Vector256<short> a, Vector256<short> b) =>
#if NET10_0_OR_GREATER // a preview API on .NET 8
        AvxVnni.IsSupported ? AvxVnni.MultiplyWideningAndAdd(c, a, b) :
#endif
        Avx2.Add(c, Avx2.MultiplyAddAdjacent(a, b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Flush(float* y, Vector256<int> lo, Vector256<int> hi, float rowScale, Vector256<float> s0, Vector256<float> s1, float* bias, bool gelu)
    {
        var r = Vector256.Create(rowScale);
        float* start = bias is not null ? bias : y;
        var vlo = Fma.MultiplyAdd(Avx.ConvertToVector256Single(lo), Avx.Multiply(s0, r), Avx.LoadVector256(start));
        var vhi = Fma.MultiplyAdd(Avx.ConvertToVector256Single(hi), Avx.Multiply(s1, r), Avx.LoadVector256(start + 8));
        if (gelu)
        {
            vlo = VectorMath.Gelu(vlo);
            vhi = VectorMath.Gelu(vhi);
        }
        Avx.Store(y, vlo);
        Avx.Store(y + 8, vhi);
    }
}

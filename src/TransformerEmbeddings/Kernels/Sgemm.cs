using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Kernels;

/// <summary>
/// The fp32 GEMM <c>Y[m, n] = Σₖ X[m, k] · W[n, k] + b[n]</c> of row-major activations and weights packed once by
/// <see cref="PackedWeights"/>. The AVX2 micro-kernel keeps a <see cref="RowBlock"/> × <see cref="PanelWidth"/> tile in
/// twelve registers and streams one weight panel (k × 16, contiguous) per tile, so a weight byte is read from memory
/// once per call however few rows there are — what makes batch-1 inference bandwidth-bound instead of repack-bound.
/// Each output is a plain left-to-right fused multiply-add sum over k.
/// </summary>
internal static unsafe class Sgemm
{
    /// <summary>Output channels per packed weight panel (two AVX vectors).</summary>
    public const int PanelWidth = 16;

    /// <summary>Rows per micro-kernel tile.</summary>
    public const int RowBlock = 6;

    /// <summary>Inputs per k-block when K is larger (keeps one panel slice in L1 and a row block in L2).</summary>
    public const int KBlock = 192;

    // Floats ahead in the weight stream to prefetch (4 KB); past the end of the panels it is a harmless no-op.
    private const int PrefetchDistance = 1024;

    /// <summary>Up to this many rows each panel is read once, whole (no k-blocks): 4–5 % faster at batch 1 (1×8 and
    /// 1×16 tokens, alternated in one process).</summary>
    public const int SequentialBelowRows = 48;

    /// <summary>Whether the AVX2/FMA kernel can run on this CPU.</summary>
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>One GEMM's operands; pointers stay valid for the call.</summary>
    internal struct Problem
    {
        /// <summary>The activations, <see cref="Rows"/> × <see cref="K"/>, row-major.</summary>
        public float* X;
        /// <summary>The packed weights (<see cref="PackedWeights.Packed"/>).</summary>
        public float* W;
        /// <summary>The bias, padded to the panel width.</summary>
        public float* Bias;
        /// <summary>The output, <see cref="Rows"/> × <see cref="N"/>, row-major.</summary>
        public float* Y;
        /// <summary>M.</summary>
        public int Rows;
        /// <summary>K.</summary>
        public int K;
        /// <summary>N.</summary>
        public int N;
        /// <summary>Apply the exact GELU to the finished outputs (<see cref="VectorMath.Gelu"/>).</summary>
        public bool Gelu;
        /// <summary>Floats between rows of <see cref="X"/> (0: K).</summary>
        public int LdX;
        /// <summary>Floats between rows of <see cref="Y"/> (0: N).</summary>
        public int LdY;
    }

    /// <summary>Computes row tiles [<paramref name="tileStart"/>, <paramref name="tileEnd"/>) × panels [<paramref name="panelStart"/>, <paramref name="panelEnd"/>).</summary>
    public static void Run(in Problem p, int tileStart, int tileEnd, int panelStart, int panelEnd)
    {
        // A few rows: nothing to keep in cache across k-blocks, and whole panels make one sequential weight stream,
        // which is what bounds batch-1 inference (the weights come from DRAM).
        int kBlock = p.Rows <= SequentialBelowRows ? p.K : KBlock;
        for (int k0 = 0; k0 < p.K; k0 += kBlock)
        {
            int kc = Math.Min(kBlock, p.K - k0);
            bool first = k0 == 0, gelu = p.Gelu && k0 + kc >= p.K;
            for (int panel = panelStart; panel < panelEnd; panel++)
            {
                float* w = p.W + (long)panel * p.K * PanelWidth + (long)k0 * PanelWidth;
                int col = panel * PanelWidth;
                for (int tile = tileStart; tile < tileEnd; tile++)
                {
                    int row = tile * RowBlock;
                    int rows = Math.Min(RowBlock, p.Rows - row);
                    int cols = Math.Min(PanelWidth, p.N - col);
                    Tile(in p, row, rows, col, cols, w, k0, kc, first, gelu);
                }
            }
        }
    }

    private static void Tile(in Problem p, int row, int rows, int col, int cols, float* w, int k0, int kc, bool first, bool gelu)
    {
        int ldx = p.LdX == 0 ? p.K : p.LdX, ldy = p.LdY == 0 ? p.N : p.LdY;
        float* x = p.X + (long)row * ldx + k0;
        if (rows == RowBlock && cols == PanelWidth)
        {
            Kernel(x, ldx, rows, w, kc, p.Y + (long)row * ldy + col, ldy, first ? p.Bias + col : null, gelu);
            return;
        }
        // Edges: compute a full tile into a stack buffer (missing rows re-read a valid one), copy what exists.
        float* tile = stackalloc float[RowBlock * PanelWidth];
        float* zero = stackalloc float[PanelWidth];
        new Span<float>(zero, PanelWidth).Clear();
        Kernel(x, ldx, rows, w, kc, tile, PanelWidth, zero, gelu: false);
        for (int i = 0; i < rows; i++)
        {
            float* dst = p.Y + (long)(row + i) * ldy + col;
            for (int j = 0; j < cols; j++)
            {
                float v = first ? tile[i * PanelWidth + j] + p.Bias[col + j] : dst[j] + tile[i * PanelWidth + j];
                dst[j] = gelu ? VectorMath.Gelu(Vector256.Create(v)).ToScalar() : v;
            }
        }
    }

    /// <summary>
    /// One 6 × 16 tile over kc inputs: <c>y = bias + Σ</c> when <paramref name="bias"/> is given, else <c>y += Σ</c>.
    /// Rows past <paramref name="rows"/> read row 0 again and are stored like the others (the caller gives a scratch tile).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel(float* x, int ldx, int rows, float* w, int kc, float* y, int ldy, float* bias, bool gelu)
    {
        float* x0 = x;
        float* x1 = rows > 1 ? x + ldx : x;
        float* x2 = rows > 2 ? x + 2 * ldx : x;
        float* x3 = rows > 3 ? x + 3 * ldx : x;
        float* x4 = rows > 4 ? x + 4 * ldx : x;
        float* x5 = rows > 5 ? x + 5 * ldx : x;
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int k = 0; k < kc; k++)
        {
            var b0 = Avx.LoadVector256(w);
            var b1 = Avx.LoadVector256(w + 8);
            Sse.Prefetch0(w + PrefetchDistance);
            w += PanelWidth;
            var a = Avx.BroadcastScalarToVector256(x0 + k);
            c00 = Fma.MultiplyAdd(a, b0, c00); c01 = Fma.MultiplyAdd(a, b1, c01);
            a = Avx.BroadcastScalarToVector256(x1 + k);
            c10 = Fma.MultiplyAdd(a, b0, c10); c11 = Fma.MultiplyAdd(a, b1, c11);
            a = Avx.BroadcastScalarToVector256(x2 + k);
            c20 = Fma.MultiplyAdd(a, b0, c20); c21 = Fma.MultiplyAdd(a, b1, c21);
            a = Avx.BroadcastScalarToVector256(x3 + k);
            c30 = Fma.MultiplyAdd(a, b0, c30); c31 = Fma.MultiplyAdd(a, b1, c31);
            a = Avx.BroadcastScalarToVector256(x4 + k);
            c40 = Fma.MultiplyAdd(a, b0, c40); c41 = Fma.MultiplyAdd(a, b1, c41);
            a = Avx.BroadcastScalarToVector256(x5 + k);
            c50 = Fma.MultiplyAdd(a, b0, c50); c51 = Fma.MultiplyAdd(a, b1, c51);
        }
        if (bias is not null)
        {
            var d0 = Avx.LoadVector256(bias);
            var d1 = Avx.LoadVector256(bias + 8);
            Store(y, c00 + d0, c01 + d1, gelu);
            Store(y + ldy, c10 + d0, c11 + d1, gelu);
            Store(y + 2 * ldy, c20 + d0, c21 + d1, gelu);
            Store(y + 3 * ldy, c30 + d0, c31 + d1, gelu);
            Store(y + 4 * ldy, c40 + d0, c41 + d1, gelu);
            Store(y + 5 * ldy, c50 + d0, c51 + d1, gelu);
        }
        else
        {
            Store(y, Avx.LoadVector256(y) + c00, Avx.LoadVector256(y + 8) + c01, gelu);
            Store(y + ldy, Avx.LoadVector256(y + ldy) + c10, Avx.LoadVector256(y + ldy + 8) + c11, gelu);
            Store(y + 2 * ldy, Avx.LoadVector256(y + 2 * ldy) + c20, Avx.LoadVector256(y + 2 * ldy + 8) + c21, gelu);
            Store(y + 3 * ldy, Avx.LoadVector256(y + 3 * ldy) + c30, Avx.LoadVector256(y + 3 * ldy + 8) + c31, gelu);
            Store(y + 4 * ldy, Avx.LoadVector256(y + 4 * ldy) + c40, Avx.LoadVector256(y + 4 * ldy + 8) + c41, gelu);
            Store(y + 5 * ldy, Avx.LoadVector256(y + 5 * ldy) + c50, Avx.LoadVector256(y + 5 * ldy + 8) + c51, gelu);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* y, Vector256<float> lo, Vector256<float> hi, bool gelu)
    {
        if (gelu)
        {
            lo = VectorMath.Gelu(lo);
            hi = VectorMath.Gelu(hi);
        }
        Avx.Store(y, lo);
        Avx.Store(y + 8, hi);
    }
}

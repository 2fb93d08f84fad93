using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Quantization;

/// <summary>
/// The int8 GEMM <c>C[m, n] = Σₖ A[m, k] · W[n, k]</c> of u8 activations (rows of <see cref="QuantizedLinearWeights.PaddedInFeatures"/>
/// bytes) and packed s8 weights, with an optional fused dequantisation
/// <c>Y[m, n] = (C[m, n] − z[m] · Σₖ W[n, k]) · (sₐ[m] · s_w[n]) + b[n]</c>.
/// The AVX2 micro-kernel keeps a <see cref="RowBlock"/> × <see cref="PanelWidth"/> tile in eight registers: per group of
/// four inputs it broadcasts each row's four activation bytes, <c>vpmaddubsw</c>s them with the panel's two weight
/// vectors (u8 × s8 pair sums, exact in s16 for a saturation-free <see cref="QuantizationScheme"/>) and widens with
/// <c>vpmaddwd</c> by ones into s32 accumulators.
/// </summary>
internal static unsafe class Int8Gemm
{
    /// <summary>Output channels per packed weight panel (two AVX2 vectors of eight s32).</summary>
    public const int PanelWidth = 16;

    /// <summary>Rows per micro-kernel tile.</summary>
    public const int RowBlock = 4;

    /// <summary>Whether the AVX2 kernel can run here.</summary>
    public static bool IsAcceleratedSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Everything one GEMM needs; pointers stay valid for the call.</summary>
    internal struct Problem
    {
        /// <summary>Quantised activations: <see cref="Rows"/> rounded up to <see cref="RowBlock"/> rows, <see cref="KGroups"/>·4 bytes apart.</summary>
        public byte* A;
        /// <summary>The packed weights.</summary>
        public sbyte* W;
        /// <summary>M (valid rows).</summary>
        public int Rows;
        /// <summary>N (valid output channels).</summary>
        public int Columns;
        /// <summary>K / 4 rounded up.</summary>
        public int KGroups;
        /// <summary>Per row scale (dequantising only).</summary>
        public float* RowScales;
        /// <summary>Per row zero point (dequantising only).</summary>
        public int* RowZeros;
        /// <summary>Per channel weight scale, padded to the panel width.</summary>
        public float* ColumnScales;
        /// <summary>Per channel Σₖ W, padded.</summary>
        public int* ColumnSums;
        /// <summary>Per channel bias, padded (zeros when the layer has none).</summary>
        public float* Bias;
        /// <summary>The fp32 output (M × N, row-major), or null.</summary>
        public float* Y;
        /// <summary>The raw s32 output (M × N, row-major) instead of <see cref="Y"/>, or null.</summary>
        public int* C;
        /// <summary>Use the AVX2 kernel.</summary>
        public bool Simd;
    }

    /// <summary>The raw s32 product C (rows × N) of quantised activations (rows padded to <see cref="RowBlock"/>, <see cref="QuantizedLinearWeights.PaddedInFeatures"/> bytes apart) and packed weights; single-threaded.</summary>
    /// <param name="a">The activations.</param>
    /// <param name="weights">The packed weights.</param>
    /// <param name="rows">M.</param>
    /// <param name="c">The output, row-major.</param>
    /// <param name="simd">Use the AVX2 kernel where supported.</param>
    public static void MultiplyInt32(ReadOnlySpan<byte> a, QuantizedLinearWeights weights, int rows, Span<int> c, bool simd)
    {
        int tiles = (rows + RowBlock - 1) / RowBlock;
        if (a.Length < (long)tiles * RowBlock * weights.PaddedInFeatures || c.Length < (long)rows * weights.OutFeatures)
            throw new ArgumentException("Buffers too small.");
        fixed (byte* pa = a)
        fixed (sbyte* pw = weights.Packed)
        fixed (int* pc = c)
        {
            var p = new Problem { A = pa, W = pw, Rows = rows, Columns = weights.OutFeatures, KGroups = weights.KGroups, C = pc, Simd = simd };
            Run(in p, 0, tiles, 0, weights.Panels);
        }
    }

    /// <summary>Computes the row tiles [<paramref name="tileStart"/>, <paramref name="tileEnd"/>) × panels [<paramref name="panelStart"/>, <paramref name="panelEnd"/>).</summary>
    public static void Run(in Problem p, int tileStart, int tileEnd, int panelStart, int panelEnd)
    {
        int lda = p.KGroups * 4;
        bool simd = p.Simd && IsAcceleratedSupported;
        for (int panel = panelStart; panel < panelEnd; panel++)
        {
            sbyte* w = p.W + (long)panel * p.KGroups * PanelWidth * 4;
            int col = panel * PanelWidth;
            for (int tile = tileStart; tile < tileEnd; tile++)
            {
                int row = tile * RowBlock;
                byte* a = p.A + (long)row * lda;
                if (simd) KernelAvx2(in p, a, lda, w, row, col);
                else KernelScalar(in p, a, lda, w, row, col);
            }
        }
    }

    /// <summary>The AVX2 tile: the call-free inner loop into a stack tile, then the store or fused dequantisation.</summary>
    private static void KernelAvx2(in Problem p, byte* a, int lda, sbyte* w, int row, int col)
    {
        int* acc = stackalloc int[RowBlock * PanelWidth];
        Accumulate(a, lda, w, p.KGroups, acc);

        int rows = Math.Min(RowBlock, p.Rows - row), cols = Math.Min(PanelWidth, p.Columns - col);
        bool full = rows == RowBlock && cols == PanelWidth;
        if (p.C is not null)
        {
            if (full)
                for (int i = 0; i < RowBlock; i++)
                {
                    int* dst = p.C + (long)(row + i) * p.Columns + col;
                    Avx.Store(dst, Avx.LoadVector256(acc + i * PanelWidth));
                    Avx.Store(dst + 8, Avx.LoadVector256(acc + i * PanelWidth + 8));
                }
            else CopyEdge(acc, p.C, p.Columns, row, col, rows, cols);
            return;
        }

        float* ftile = stackalloc float[RowBlock * PanelWidth];
        var sw0 = Avx.LoadVector256(p.ColumnScales + col); var sw1 = Avx.LoadVector256(p.ColumnScales + col + 8);
        var cs0 = Avx.LoadVector256(p.ColumnSums + col); var cs1 = Avx.LoadVector256(p.ColumnSums + col + 8);
        var b0 = Avx.LoadVector256(p.Bias + col); var b1 = Avx.LoadVector256(p.Bias + col + 8);
        for (int i = 0; i < RowBlock; i++)
        {
            if (row + i >= p.Rows) break;
            float* y = full ? p.Y + (long)(row + i) * p.Columns + col : ftile + i * PanelWidth;
            var s = Vector256.Create(p.RowScales[row + i]);
            var z = Vector256.Create(p.RowZeros[row + i]);
            var c0 = Avx.LoadVector256(acc + i * PanelWidth);
            var c1 = Avx.LoadVector256(acc + i * PanelWidth + 8);
            Avx.Store(y, Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Subtract(c0, Avx2.MultiplyLow(z, cs0))), Avx.Multiply(s, sw0), b0));
            Avx.Store(y + 8, Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.Subtract(c1, Avx2.MultiplyLow(z, cs1))), Avx.Multiply(s, sw1), b1));
        }
        if (!full) CopyEdge(ftile, p.Y, p.Columns, row, col, rows, cols);
    }

    /// <summary>
    /// The micro-kernel: a 4 × 16 s32 tile in eight registers (plus two weight vectors, one broadcast, the ones and a
    /// temporary: 13 of the 16 ymm). No calls, so nothing is spilled.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Accumulate(byte* a, int lda, sbyte* w, int groups, int* tile)
    {
        var c00 = Vector256<int>.Zero; var c01 = Vector256<int>.Zero;
        var c10 = Vector256<int>.Zero; var c11 = Vector256<int>.Zero;
        var c20 = Vector256<int>.Zero; var c21 = Vector256<int>.Zero;
        var c30 = Vector256<int>.Zero; var c31 = Vector256<int>.Zero;
        var ones = Vector256.Create((short)1);
        byte* a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda, end = a + 4 * groups;
        for (; a < end; a += 4, a1 += 4, a2 += 4, a3 += 4, w += 4 * PanelWidth)
        {
            var w0 = Avx.LoadVector256(w);
            var w1 = Avx.LoadVector256(w + 32);
            var b = Avx2.BroadcastScalarToVector256((int*)a).AsByte();
            c00 = Avx2.Add(c00, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(b, w0), ones));
            c01 = Avx2.Add(c01, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(b, w1), ones));
            b = Avx2.BroadcastScalarToVector256((int*)a1).AsByte();
            c10 = Avx2.Add(c10, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(b, w0), ones));
            c11 = Avx2.Add(c11, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(b, w1), ones));
            b = Avx2.BroadcastScalarToVector256((int*)a2).AsByte();
            c20 = Avx2.Add(c20, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(b, w0), ones));
            c21 = Avx2.Add(c21, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(b, w1), ones));
            b = Avx2.BroadcastScalarToVector256((int*)a3).AsByte();
            c30 = Avx2.Add(c30, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(b, w0), ones));
            c31 = Avx2.Add(c31, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(b, w1), ones));
        }
        Avx.Store(tile, c00); Avx.Store(tile + 8, c01);
        Avx.Store(tile + 16, c10); Avx.Store(tile + 24, c11);
        Avx.Store(tile + 32, c20); Avx.Store(tile + 40, c21);
        Avx.Store(tile + 48, c30); Avx.Store(tile + 56, c31);
    }

    private static void CopyEdge<T>(T* tile, T* dst, int ld, int row, int col, int rows, int cols) where T : unmanaged
    {
        for (int i = 0; i < rows; i++)
            new ReadOnlySpan<T>(tile + i * PanelWidth, cols).CopyTo(new Span<T>(dst + (long)(row + i) * ld + col, cols));
    }

    /// <summary>The portable kernel: same tile, same integer sums, same fp32 operations as the AVX2 one.</summary>
    private static void KernelScalar(in Problem p, byte* a, int lda, sbyte* w, int row, int col)
    {
        int rows = Math.Min(RowBlock, p.Rows - row), cols = Math.Min(PanelWidth, p.Columns - col);
        int* acc = stackalloc int[RowBlock * PanelWidth];
        new Span<int>(acc, RowBlock * PanelWidth).Clear();
        for (int g = 0; g < p.KGroups; g++, w += 4 * PanelWidth)
        {
            for (int i = 0; i < rows; i++)
            {
                byte* ai = a + (long)i * lda + g * 4;
                int* ci = acc + i * PanelWidth;
                for (int j = 0; j < cols; j++)
                {
                    sbyte* wj = w + j * 4;
                    ci[j] += ai[0] * wj[0] + ai[1] * wj[1] + ai[2] * wj[2] + ai[3] * wj[3];
                }
            }
        }
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < cols; j++)
            {
                int c = acc[i * PanelWidth + j];
                long at = (long)(row + i) * p.Columns + col + j;
                if (p.C is not null)
                {
                    p.C[at] = c;
                    continue;
                }
                int n = col + j;
                float scale = p.RowScales[row + i] * p.ColumnScales[n];
                p.Y[at] = MathF.FusedMultiplyAdd((float)(c - p.RowZeros[row + i] * p.ColumnSums[n]), scale, p.Bias[n]);
            }
        }
    }
}

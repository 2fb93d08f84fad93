using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// The AVX-512 fp32 micro-kernel for attention's products: 12 × 32 in 24 zmm accumulators, two weight vectors and one
/// broadcast per k. 32 columns fit a head (32 or 64 channels) and pad a score row by at most 31 keys, where the 48-wide
/// linear-layer tile would multiply up to a third padding; hot it runs at the same rate as 8 × 48.
/// </summary>
internal static unsafe class SgemmAvx512Narrow
{
    /// <summary>MR.</summary>
    public const int Rows = 12;

    /// <summary>NR (two zmm vectors).</summary>
    public const int Columns = 32;

    /// <summary>The descriptor.</summary>
    public static SgemmKernel Kernel => new(Rows, Columns, InstructionSet.Avx512, &Multiply);

    /// <summary>The same tile one vector wide (16 columns), for the scores of at most 16 keys: padded to 32 keys, half
    /// of those products would be zero keys' (the sums of the columns it has are the same chains, so the same bits).</summary>
    public static SgemmKernel Half => new(Rows, Columns / 2, InstructionSet.Avx512, &MultiplyHalf);

    /// <summary>The tile, its activations read in place (<paramref name="lda"/> floats between rows): the queries
    /// straight from the fused projection and the probabilities from the score block, without packing either. A short
    /// tile (a sentence's last query rows) runs on 4 or 8 rows instead of 12: 16 queries are 12 + 4 rows, not 12 + 12.</summary>
    private static void Multiply(float* a, int lda, float* b, int kc, float* c, int ldc, int rows, float* bias)
    {
        if (rows <= 4) Tile<Four, Two>(a, lda, b, kc, c, ldc, rows, bias);
        else if (rows <= 8) Tile<Eight, Two>(a, lda, b, kc, c, ldc, rows, bias);
        else Tile<Twelve, Two>(a, lda, b, kc, c, ldc, rows, bias);
    }

    private static void MultiplyHalf(float* a, int lda, float* b, int kc, float* c, int ldc, int rows, float* bias)
    {
        if (rows <= 4) Tile<Four, One>(a, lda, b, kc, c, ldc, rows, bias);
        else if (rows <= 8) Tile<Eight, One>(a, lda, b, kc, c, ldc, rows, bias);
        else Tile<Twelve, One>(a, lda, b, kc, c, ldc, rows, bias);
    }

    /// <summary>A tile height the JIT compiles a kernel for (its branches on <see cref="Count"/> fold away).</summary>
    private interface ITileRows
    {
        static abstract int Count { get; }
    }

    /// <summary>A tile width in vectors of 16 columns, as <see cref="ITileRows"/>.</summary>
    private interface ITileVectors
    {
        static abstract int Count { get; }
    }

    private struct Four : ITileRows { public static int Count => 4; }

    private struct Eight : ITileRows { public static int Count => 8; }

    private struct Twelve : ITileRows { public static int Count => 12; }

    private struct One : ITileVectors { public static int Count => 1; }

    private struct Two : ITileVectors { public static int Count => 2; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows, TVectors>(float* a, int lda, float* b, int kc, float* c, int ldc, int rows, float* bias)
        where TRows : struct, ITileRows where TVectors : struct, ITileVectors
    {
        // Rows past the tile's last repeat it: their sums are computed and never stored.
        float* a0 = a, a1 = a + Math.Min(1, rows - 1) * (long)lda, a2 = a + Math.Min(2, rows - 1) * (long)lda, a3 = a + Math.Min(3, rows - 1) * (long)lda;
        float* a4 = a3, a5 = a3, a6 = a3, a7 = a3, a8 = a3, a9 = a3, aa = a3, ab = a3;
        if (TRows.Count > 4)
        {
            a4 = a + Math.Min(4, rows - 1) * (long)lda; a5 = a + Math.Min(5, rows - 1) * (long)lda; a6 = a + Math.Min(6, rows - 1) * (long)lda; a7 = a + Math.Min(7, rows - 1) * (long)lda;
        }
        if (TRows.Count > 8)
        {
            a8 = a + Math.Min(8, rows - 1) * (long)lda; a9 = a + Math.Min(9, rows - 1) * (long)lda; aa = a + Math.Min(10, rows - 1) * (long)lda; ab = a + Math.Min(11, rows - 1) * (long)lda;
        }
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default;
        Vector512<float> c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;
        for (int k = 0; k < kc; k++)
        {
            var b0 = Avx512F.LoadVector512(b);
            var b1 = TVectors.Count > 1 ? Avx512F.LoadVector512(b + 16) : default;
            b += 16 * TVectors.Count;
            Vector512<float> x;
            x = Vector512.Create(a0[k]);
            c00 = Avx512F.FusedMultiplyAdd(x, b0, c00); if (TVectors.Count > 1) c01 = Avx512F.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a1[k]);
            c10 = Avx512F.FusedMultiplyAdd(x, b0, c10); if (TVectors.Count > 1) c11 = Avx512F.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a2[k]);
            c20 = Avx512F.FusedMultiplyAdd(x, b0, c20); if (TVectors.Count > 1) c21 = Avx512F.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a3[k]);
            c30 = Avx512F.FusedMultiplyAdd(x, b0, c30); if (TVectors.Count > 1) c31 = Avx512F.FusedMultiplyAdd(x, b1, c31);
            if (TRows.Count > 4)
            {
                x = Vector512.Create(a4[k]);
                c40 = Avx512F.FusedMultiplyAdd(x, b0, c40); if (TVectors.Count > 1) c41 = Avx512F.FusedMultiplyAdd(x, b1, c41);
                x = Vector512.Create(a5[k]);
                c50 = Avx512F.FusedMultiplyAdd(x, b0, c50); if (TVectors.Count > 1) c51 = Avx512F.FusedMultiplyAdd(x, b1, c51);
                x = Vector512.Create(a6[k]);
                c60 = Avx512F.FusedMultiplyAdd(x, b0, c60); if (TVectors.Count > 1) c61 = Avx512F.FusedMultiplyAdd(x, b1, c61);
                x = Vector512.Create(a7[k]);
                c70 = Avx512F.FusedMultiplyAdd(x, b0, c70); if (TVectors.Count > 1) c71 = Avx512F.FusedMultiplyAdd(x, b1, c71);
            }
            if (TRows.Count > 8)
            {
                x = Vector512.Create(a8[k]);
                c80 = Avx512F.FusedMultiplyAdd(x, b0, c80); if (TVectors.Count > 1) c81 = Avx512F.FusedMultiplyAdd(x, b1, c81);
                x = Vector512.Create(a9[k]);
                c90 = Avx512F.FusedMultiplyAdd(x, b0, c90); if (TVectors.Count > 1) c91 = Avx512F.FusedMultiplyAdd(x, b1, c91);
                x = Vector512.Create(aa[k]);
                ca0 = Avx512F.FusedMultiplyAdd(x, b0, ca0); if (TVectors.Count > 1) ca1 = Avx512F.FusedMultiplyAdd(x, b1, ca1);
                x = Vector512.Create(ab[k]);
                cb0 = Avx512F.FusedMultiplyAdd(x, b0, cb0); if (TVectors.Count > 1) cb1 = Avx512F.FusedMultiplyAdd(x, b1, cb1);
            }
        }
        Store<TVectors>(c, c00, c01, bias);
        if (rows > 1) Store<TVectors>(c + 1 * ldc, c10, c11, bias);
        if (rows > 2) Store<TVectors>(c + 2 * ldc, c20, c21, bias);
        if (rows > 3) Store<TVectors>(c + 3 * ldc, c30, c31, bias);
        if (TRows.Count > 4)
        {
            if (rows > 4) Store<TVectors>(c + 4 * ldc, c40, c41, bias);
            if (rows > 5) Store<TVectors>(c + 5 * ldc, c50, c51, bias);
            if (rows > 6) Store<TVectors>(c + 6 * ldc, c60, c61, bias);
            if (rows > 7) Store<TVectors>(c + 7 * ldc, c70, c71, bias);
        }
        if (TRows.Count > 8)
        {
            if (rows > 8) Store<TVectors>(c + 8 * ldc, c80, c81, bias);
            if (rows > 9) Store<TVectors>(c + 9 * ldc, c90, c91, bias);
            if (rows > 10) Store<TVectors>(c + 10 * ldc, ca0, ca1, bias);
            if (rows > 11) Store<TVectors>(c + 11 * ldc, cb0, cb1, bias);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TVectors>(float* c, Vector512<float> s0, Vector512<float> s1, float* bias) where TVectors : struct, ITileVectors
    {
        float* start = bias is not null ? bias : c;
        Avx512F.Store(c, Avx512F.Add(s0, Avx512F.LoadVector512(start)));
        if (TVectors.Count > 1) Avx512F.Store(c + 16, Avx512F.Add(s1, Avx512F.LoadVector512(start + 16)));
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// The AVX-512 fp32 micro-kernel: an 8 × 48 tile in 24 zmm accumulators, three weight vectors and one broadcast per k
/// (28 of the 32 registers; 24 FMAs per 11 loads keep both FMA pipes busy: 95 % of the FMA peak single-threaded on
/// MiniLM's shapes, measured on Zen 5, where 12 × 32 and 8 × 48 tied hot but 8 × 48 needs fewer loads per FMA).
/// </summary>
internal static unsafe class SgemmAvx512
{
    /// <summary>MR.</summary>
    public const int Rows = 8;

    /// <summary>NR (three zmm vectors).</summary>
    public const int Columns = 48;

    /// <summary>The descriptor.</summary>
    public static SgemmKernel Kernel => new(Rows, Columns, InstructionSet.Avx512, &Multiply);

    /// <summary>
    /// The tile, its activations read where they lie (<paramref name="lda"/> floats between rows): eight broadcast streams
    /// instead of one packed panel. Packing cost a pass over X per product (6 % of a bert-base forward)
    /// and a shared pre-packed copy of X when several items share its rows; read in place, 4096 × 3072 × 768 ran 9 % faster
    /// on 2 threads and MiniLM's 32 × 20 forward 4 % (Zen 5).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Multiply(float* a, int lda, float* b, int kc, float* c, int ldc, int rows, float* bias)
    {
        // Rows past the tile's last repeat it: their sums are computed and never stored.
        float* a0 = a, a1 = a + Math.Min(1, rows - 1) * (long)lda, a2 = a + Math.Min(2, rows - 1) * (long)lda, a3 = a + Math.Min(3, rows - 1) * (long)lda;
        float* a4 = a + Math.Min(4, rows - 1) * (long)lda, a5 = a + Math.Min(5, rows - 1) * (long)lda, a6 = a + Math.Min(6, rows - 1) * (long)lda, a7 = a + Math.Min(7, rows - 1) * (long)lda;
        Vector512<float> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default;
        Vector512<float> c40 = default, c41 = default, c42 = default, c50 = default, c51 = default, c52 = default;
        Vector512<float> c60 = default, c61 = default, c62 = default, c70 = default, c71 = default, c72 = default;
        for (int k = 0; k < kc; k++)
        {
            var b0 = Avx512F.LoadVector512(b);
            var b1 = Avx512F.LoadVector512(b + 16);
            var b2 = Avx512F.LoadVector512(b + 32);
            b += Columns;
            var x = Vector512.Create(a0[k]);
            c00 = Avx512F.FusedMultiplyAdd(x, b0, c00); c01 = Avx512F.FusedMultiplyAdd(x, b1, c01); c02 = Avx512F.FusedMultiplyAdd(x, b2, c02);
            x = Vector512.Create(a1[k]);
            c10 = Avx512F.FusedMultiplyAdd(x, b0, c10); c11 = Avx512F.FusedMultiplyAdd(x, b1, c11); c12 = Avx512F.FusedMultiplyAdd(x, b2, c12);
            x = Vector512.Create(a2[k]);
            c20 = Avx512F.FusedMultiplyAdd(x, b0, c20); c21 = Avx512F.FusedMultiplyAdd(x, b1, c21); c22 = Avx512F.FusedMultiplyAdd(x, b2, c22);
            x = Vector512.Create(a3[k]);
            c30 = Avx512F.FusedMultiplyAdd(x, b0, c30); c31 = Avx512F.FusedMultiplyAdd(x, b1, c31); c32 = Avx512F.FusedMultiplyAdd(x, b2, c32);
            x = Vector512.Create(a4[k]);
            c40 = Avx512F.FusedMultiplyAdd(x, b0, c40); c41 = Avx512F.FusedMultiplyAdd(x, b1, c41); c42 = Avx512F.FusedMultiplyAdd(x, b2, c42);
            x = Vector512.Create(a5[k]);
            c50 = Avx512F.FusedMultiplyAdd(x, b0, c50); c51 = Avx512F.FusedMultiplyAdd(x, b1, c51); c52 = Avx512F.FusedMultiplyAdd(x, b2, c52);
            x = Vector512.Create(a6[k]);
            c60 = Avx512F.FusedMultiplyAdd(x, b0, c60); c61 = Avx512F.FusedMultiplyAdd(x, b1, c61); c62 = Avx512F.FusedMultiplyAdd(x, b2, c62);
            x = Vector512.Create(a7[k]);
            c70 = Avx512F.FusedMultiplyAdd(x, b0, c70); c71 = Avx512F.FusedMultiplyAdd(x, b1, c71); c72 = Avx512F.FusedMultiplyAdd(x, b2, c72);
        }
        Store(c, c00, c01, c02, bias);
        if (rows > 1) Store(c + ldc, c10, c11, c12, bias);
        if (rows > 2) Store(c + 2 * ldc, c20, c21, c22, bias);
        if (rows > 3) Store(c + 3 * ldc, c30, c31, c32, bias);
        if (rows > 4) Store(c + 4 * ldc, c40, c41, c42, bias);
        if (rows > 5) Store(c + 5 * ldc, c50, c51, c52, bias);
        if (rows > 6) Store(c + 6 * ldc, c60, c61, c62, bias);
        if (rows > 7) Store(c + 7 * ldc, c70, c71, c72, bias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector512<float> s0, Vector512<float> s1, Vector512<float> s2, float* bias)
    {
        float* start = bias is not null ? bias : c;
        Avx512F.Store(c, Avx512F.Add(s0, Avx512F.LoadVector512(start)));
        Avx512F.Store(c + 16, Avx512F.Add(s1, Avx512F.LoadVector512(start + 16)));
        Avx512F.Store(c + 32, Avx512F.Add(s2, Avx512F.LoadVector512(start + 32)));
    }
}

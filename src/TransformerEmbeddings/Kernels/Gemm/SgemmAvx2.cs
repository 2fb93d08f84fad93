using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// The AVX2/FMA fp32 micro-kernel: a 6 × 16 tile in 12 ymm accumulators, two weight vectors and one broadcast per k
/// (15 of the 16 registers, no spills; the fastest of 6 × 16, 4 × 24 and 3 × 32 on an AVX2-only EPYC).
/// </summary>
internal static unsafe class SgemmAvx2
{
    /// <summary>MR.</summary>
    public const int Rows = 6;

    /// <summary>NR (two ymm vectors).</summary>
    public const int Columns = 16;

    /// <summary>The descriptor.</summary>
    public static SgemmKernel Kernel => new(Rows, Columns, InstructionSet.Avx2, &Multiply);

    /// <summary>The tile, its activations read in place (<paramref name="lda"/> floats between rows), as <see cref="SgemmAvx512"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Multiply(float* a, int lda, float* b, int kc, float* c, int ldc, int rows, float* bias)
    {
        // Rows past the tile's last repeat it: their sums are computed and never stored.
        float* a0 = a, a1 = a + Math.Min(1, rows - 1) * (long)lda, a2 = a + Math.Min(2, rows - 1) * (long)lda;
        float* a3 = a + Math.Min(3, rows - 1) * (long)lda, a4 = a + Math.Min(4, rows - 1) * (long)lda, a5 = a + Math.Min(5, rows - 1) * (long)lda;
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int k = 0; k < kc; k++)
        {
            var b0 = Avx.LoadVector256(b);
            var b1 = Avx.LoadVector256(b + 8);
            b += Columns;
            var x = Vector256.Create(a0[k]);
            c00 = Fma.MultiplyAdd(x, b0, c00); c01 = Fma.MultiplyAdd(x, b1, c01);
            x = Vector256.Create(a1[k]);
            c10 = Fma.MultiplyAdd(x, b0, c10); c11 = Fma.MultiplyAdd(x, b1, c11);
            x = Vector256.Create(a2[k]);
            c20 = Fma.MultiplyAdd(x, b0, c20); c21 = Fma.MultiplyAdd(x, b1, c21);
            x = Vector256.Create(a3[k]);
            c30 = Fma.MultiplyAdd(x, b0, c30); c31 = Fma.MultiplyAdd(x, b1, c31);
            x = Vector256.Create(a4[k]);
            c40 = Fma.MultiplyAdd(x, b0, c40); c41 = Fma.MultiplyAdd(x, b1, c41);
            x = Vector256.Create(a5[k]);
            c50 = Fma.MultiplyAdd(x, b0, c50); c51 = Fma.MultiplyAdd(x, b1, c51);
        }
        Store(c, c00, c01, bias);
        if (rows > 1) Store(c + ldc, c10, c11, bias);
        if (rows > 2) Store(c + 2 * ldc, c20, c21, bias);
        if (rows > 3) Store(c + 3 * ldc, c30, c31, bias);
        if (rows > 4) Store(c + 4 * ldc, c40, c41, bias);
        if (rows > 5) Store(c + 5 * ldc, c50, c51, bias);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector256<float> s0, Vector256<float> s1, float* bias)
    {
        float* start = bias is not null ? bias : c;
        Avx.Store(c, Avx.Add(s0, Avx.LoadVector256(start)));
        Avx.Store(c + 8, Avx.Add(s1, Avx.LoadVector256(start + 8)));
    }
}

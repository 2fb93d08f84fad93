using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// The AVX2 12-bit integer micro-kernel: 6 × 16 in 12 ymm of 32-bit sums; <c>vpmaddwd</c> + <c>vpaddd</c>, or one
/// AVX-VNNI <c>vpdpwssd</c> where the CPU has it (the same integers either way).
/// </summary>
internal static unsafe class QgemmAvx2
{
    /// <summary>MR.</summary>
    public const int Rows = 6;

    /// <summary>NR (two ymm of 32-bit sums).</summary>
    public const int Columns = 16;

    /// <summary>The descriptor.</summary>
    public static QgemmKernel Kernel => new(Rows, Columns, InstructionSet.Avx2, &Multiply);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Multiply(int* a, short* b, int pc, float* c, int ldc, int rows, float* rowScales, float* colScales, float* bias)
    {
        Vector256<int> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<int> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < pc; p++)
        {
            var b0 = Avx.LoadVector256(b);
            var b1 = Avx.LoadVector256(b + 16);
            b += 2 * Columns;
            var x = Vector256.Create(a[0]).AsInt16();
            c00 = MultiplyAdd(c00, x, b0); c01 = MultiplyAdd(c01, x, b1);
            x = Vector256.Create(a[1]).AsInt16();
            c10 = MultiplyAdd(c10, x, b0); c11 = MultiplyAdd(c11, x, b1);
            x = Vector256.Create(a[2]).AsInt16();
            c20 = MultiplyAdd(c20, x, b0); c21 = MultiplyAdd(c21, x, b1);
            x = Vector256.Create(a[3]).AsInt16();
            c30 = MultiplyAdd(c30, x, b0); c31 = MultiplyAdd(c31, x, b1);
            x = Vector256.Create(a[4]).AsInt16();
            c40 = MultiplyAdd(c40, x, b0); c41 = MultiplyAdd(c41, x, b1);
            x = Vector256.Create(a[5]).AsInt16();
            c50 = MultiplyAdd(c50, x, b0); c51 = MultiplyAdd(c51, x, b1);
            a += Rows;
        }
        var s0 = Avx.LoadVector256(colScales);
        var s1 = Avx.LoadVector256(colScales + 8);
        Flush(c, c00, c01, rowScales[0], s0, s1, bias);
        if (rows > 1) Flush(c + ldc, c10, c11, rowScales[1], s0, s1, bias);
        if (rows > 2) Flush(c + 2 * ldc, c20, c21, rowScales[2], s0, s1, bias);
        if (rows > 3) Flush(c + 3 * ldc, c30, c31, rowScales[3], s0, s1, bias);
        if (rows > 4) Flush(c + 4 * ldc, c40, c41, rowScales[4], s0, s1, bias);
        if (rows > 5) Flush(c + 5 * ldc, c50, c51, rowScales[5], s0, s1, bias);
    }

    /// <summary><c>c + a₀b₀ + a₁b₁</c> per 32-bit lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> MultiplyAdd(Vector256<int> c, Vector256<short> a, Vector256<short> b) =>
#if NET10_0_OR_GREATER // a preview API on .NET 8
        AvxVnni.IsSupported ? AvxVnni.MultiplyWideningAndAdd(c, a, b) :
#endif
        Avx2.Add(c, Avx2.MultiplyAddAdjacent(a, b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Flush(float* c, Vector256<int> lo, Vector256<int> hi, float rowScale, Vector256<float> s0, Vector256<float> s1, float* bias)
    {
        var r = Vector256.Create(rowScale);
        float* start = bias is not null ? bias : c;
        Avx.Store(c, Fma.MultiplyAdd(Avx.ConvertToVector256Single(lo), Avx.Multiply(s0, r), Avx.LoadVector256(start)));
        Avx.Store(c + 8, Fma.MultiplyAdd(Avx.ConvertToVector256Single(hi), Avx.Multiply(s1, r), Avx.LoadVector256(start + 8)));
    }
}

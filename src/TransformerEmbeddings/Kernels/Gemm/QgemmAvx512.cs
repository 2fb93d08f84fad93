using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// The AVX-512 12-bit integer micro-kernel: 8 × 48 in 24 zmm of 32-bit sums, <c>vpmaddwd</c> + <c>vpaddd</c> (32
/// multiply-adds per pair of instructions). .NET 10 exposes no 512-bit <c>vpdpwssd</c> (AVX512-VNNI) or
/// <c>vdpbf16ps</c> (AVX512-BF16), but on Zen 5 this pair runs at 2.7× the fp32 FMA rate (294 vs 110 GMAC/s per core).
/// Where the CPU has AVX512-VNNI, <see cref="QgemmAvx512Vnni"/> runs the same loop as machine code instead.
/// </summary>
internal static unsafe class QgemmAvx512
{
    /// <summary>MR.</summary>
    public const int Rows = 8;

    /// <summary>NR (three zmm of 32-bit sums).</summary>
    public const int Columns = 48;

    /// <summary>The descriptor.</summary>
    public static QgemmKernel Kernel => new(Rows, Columns, InstructionSet.Avx512, &Multiply);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Multiply(int* a, short* b, int pc, float* c, int ldc, int rows, float* rowScales, float* colScales, float* bias)
    {
        Vector512<int> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default;
        Vector512<int> c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default;
        Vector512<int> c40 = default, c41 = default, c42 = default, c50 = default, c51 = default, c52 = default;
        Vector512<int> c60 = default, c61 = default, c62 = default, c70 = default, c71 = default, c72 = default;
        for (int p = 0; p < pc; p++)
        {
            var b0 = Avx512BW.LoadVector512(b);
            var b1 = Avx512BW.LoadVector512(b + 32);
            var b2 = Avx512BW.LoadVector512(b + 64);
            b += 2 * Columns;
            var x = Vector512.Create(a[0]).AsInt16();
            c00 = Avx512F.Add(c00, Avx512BW.MultiplyAddAdjacent(x, b0)); c01 = Avx512F.Add(c01, Avx512BW.MultiplyAddAdjacent(x, b1)); c02 = Avx512F.Add(c02, Avx512BW.MultiplyAddAdjacent(x, b2));
            x = Vector512.Create(a[1]).AsInt16();
            c10 = Avx512F.Add(c10, Avx512BW.MultiplyAddAdjacent(x, b0)); c11 = Avx512F.Add(c11, Avx512BW.MultiplyAddAdjacent(x, b1)); c12 = Avx512F.Add(c12, Avx512BW.MultiplyAddAdjacent(x, b2));
            x = Vector512.Create(a[2]).AsInt16();
            c20 = Avx512F.Add(c20, Avx512BW.MultiplyAddAdjacent(x, b0)); c21 = Avx512F.Add(c21, Avx512BW.MultiplyAddAdjacent(x, b1)); c22 = Avx512F.Add(c22, Avx512BW.MultiplyAddAdjacent(x, b2));
            x = Vector512.Create(a[3]).AsInt16();
            c30 = Avx512F.Add(c30, Avx512BW.MultiplyAddAdjacent(x, b0)); c31 = Avx512F.Add(c31, Avx512BW.MultiplyAddAdjacent(x, b1)); c32 = Avx512F.Add(c32, Avx512BW.MultiplyAddAdjacent(x, b2));
            x = Vector512.Create(a[4]).AsInt16();
            c40 = Avx512F.Add(c40, Avx512BW.MultiplyAddAdjacent(x, b0)); c41 = Avx512F.Add(c41, Avx512BW.MultiplyAddAdjacent(x, b1)); c42 = Avx512F.Add(c42, Avx512BW.MultiplyAddAdjacent(x, b2));
            x = Vector512.Create(a[5]).AsInt16();
            c50 = Avx512F.Add(c50, Avx512BW.MultiplyAddAdjacent(x, b0)); c51 = Avx512F.Add(c51, Avx512BW.MultiplyAddAdjacent(x, b1)); c52 = Avx512F.Add(c52, Avx512BW.MultiplyAddAdjacent(x, b2));
            x = Vector512.Create(a[6]).AsInt16();
            c60 = Avx512F.Add(c60, Avx512BW.MultiplyAddAdjacent(x, b0)); c61 = Avx512F.Add(c61, Avx512BW.MultiplyAddAdjacent(x, b1)); c62 = Avx512F.Add(c62, Avx512BW.MultiplyAddAdjacent(x, b2));
            x = Vector512.Create(a[7]).AsInt16();
            c70 = Avx512F.Add(c70, Avx512BW.MultiplyAddAdjacent(x, b0)); c71 = Avx512F.Add(c71, Avx512BW.MultiplyAddAdjacent(x, b1)); c72 = Avx512F.Add(c72, Avx512BW.MultiplyAddAdjacent(x, b2));
            a += Rows;
        }
        var s0 = Avx512F.LoadVector512(colScales);
        var s1 = Avx512F.LoadVector512(colScales + 16);
        var s2 = Avx512F.LoadVector512(colScales + 32);
        Flush(c, c00, c01, c02, rowScales[0], s0, s1, s2, bias);
        if (rows > 1) Flush(c + ldc, c10, c11, c12, rowScales[1], s0, s1, s2, bias);
        if (rows > 2) Flush(c + 2 * ldc, c20, c21, c22, rowScales[2], s0, s1, s2, bias);
        if (rows > 3) Flush(c + 3 * ldc, c30, c31, c32, rowScales[3], s0, s1, s2, bias);
        if (rows > 4) Flush(c + 4 * ldc, c40, c41, c42, rowScales[4], s0, s1, s2, bias);
        if (rows > 5) Flush(c + 5 * ldc, c50, c51, c52, rowScales[5], s0, s1, s2, bias);
        if (rows > 6) Flush(c + 6 * ldc, c60, c61, c62, rowScales[6], s0, s1, s2, bias);
        if (rows > 7) Flush(c + 7 * ldc, c70, c71, c72, rowScales[7], s0, s1, s2, bias);
    }

    /// <summary>Writes one row of the tile: <c>c = fma(sums, sw · sx, bias or c)</c> (shared with <see cref="QgemmAvx512Vnni"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Flush(float* c, Vector512<int> v0, Vector512<int> v1, Vector512<int> v2, float rowScale,
        Vector512<float> s0, Vector512<float> s1, Vector512<float> s2, float* bias)
    {
        var r = Vector512.Create(rowScale);
        float* start = bias is not null ? bias : c;
        Avx512F.Store(c, Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(v0), Avx512F.Multiply(s0, r), Avx512F.LoadVector512(start)));
        Avx512F.Store(c + 16, Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(v1), Avx512F.Multiply(s1, r), Avx512F.LoadVector512(start + 16)));
        Avx512F.Store(c + 32, Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(v2), Avx512F.Multiply(s2, r), Avx512F.LoadVector512(start + 32)));
    }
}

using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Benchmarks;

/// <summary>
/// The CPU's fp32 multiply-add peak: twelve independent fused multiply-add chains in registers at the widest width this
/// build can use (16 lanes with AVX-512, else 8), on every thread asked — what the cores can do at best, the yardstick
/// the GEMMs are measured against (libtorch's matmul is not: on AMD CPUs MKL runs a generic kernel).
/// </summary>
internal static class FmaPeak
{
    /// <summary>Best GFLOP/s over three rounds (two FLOPs per multiply-add).</summary>
    public static double Gflops(int threads)
    {
        const long n = 50_000_000;
        double best = 0;
        Chains(1000);
        for (int rep = 0; rep < 3; rep++)
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => Chains(n));
            best = Math.Max(best, 2.0 * threads * n * 12.0 * (Avx512F.IsSupported ? 16 : 8) / sw.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    private static float Chains(long n)
    {
        if (Avx512F.IsSupported)
        {
            var b = Vector512.Create(0.999999f);
            var c = Vector512.Create(1e-7f);
            Vector512<float> a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b, a8 = b, a9 = b, a10 = b, a11 = b;
            for (long i = 0; i < n; i++)
            {
                a0 = Avx512F.FusedMultiplyAdd(a0, b, c); a1 = Avx512F.FusedMultiplyAdd(a1, b, c); a2 = Avx512F.FusedMultiplyAdd(a2, b, c);
                a3 = Avx512F.FusedMultiplyAdd(a3, b, c); a4 = Avx512F.FusedMultiplyAdd(a4, b, c); a5 = Avx512F.FusedMultiplyAdd(a5, b, c);
                a6 = Avx512F.FusedMultiplyAdd(a6, b, c); a7 = Avx512F.FusedMultiplyAdd(a7, b, c); a8 = Avx512F.FusedMultiplyAdd(a8, b, c);
                a9 = Avx512F.FusedMultiplyAdd(a9, b, c); a10 = Avx512F.FusedMultiplyAdd(a10, b, c); a11 = Avx512F.FusedMultiplyAdd(a11, b, c);
            }
            return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).ToScalar();
        }
        var v = Vector256.Create(0.999999f);
        var d = Vector256.Create(1e-7f);
        Vector256<float> e0 = v, e1 = v, e2 = v, e3 = v, e4 = v, e5 = v, e6 = v, e7 = v, e8 = v, e9 = v, e10 = v, e11 = v;
        for (long i = 0; i < n; i++)
        {
            e0 = Fma.MultiplyAdd(e0, v, d); e1 = Fma.MultiplyAdd(e1, v, d); e2 = Fma.MultiplyAdd(e2, v, d);
            e3 = Fma.MultiplyAdd(e3, v, d); e4 = Fma.MultiplyAdd(e4, v, d); e5 = Fma.MultiplyAdd(e5, v, d);
            e6 = Fma.MultiplyAdd(e6, v, d); e7 = Fma.MultiplyAdd(e7, v, d); e8 = Fma.MultiplyAdd(e8, v, d);
            e9 = Fma.MultiplyAdd(e9, v, d); e10 = Fma.MultiplyAdd(e10, v, d); e11 = Fma.MultiplyAdd(e11, v, d);
        }
        return (e0 + e1 + e2 + e3 + e4 + e5 + e6 + e7 + e8 + e9 + e10 + e11).ToScalar();
    }
}

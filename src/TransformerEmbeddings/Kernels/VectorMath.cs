using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Kernels;

/// <summary>The elementwise functions the CPU kernels fuse (AVX2/FMA, eight floats at a time).</summary>
internal static class VectorMath
{
    /// <summary>
    /// eˣ to about one ulp (Cephes <c>expf</c>: x = n·ln2 + r, a degree-6 polynomial in r, then 2ⁿ through the exponent
    /// bits); exactly 0 below −87.3, where the float result would underflow — so masked keys weigh nothing, as in torch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var underflow = Avx.CompareLessThan(x, Vector256.Create(-87.33654f));
        x = Avx.Min(Avx.Max(x, Vector256.Create(-87.33654f)), Vector256.Create(88.37626f));
        var n = Avx.RoundToNearestInteger(Avx.Multiply(x, Vector256.Create(1.44269504088896341f)));
        var r = Fma.MultiplyAddNegated(n, Vector256.Create(0.693359375f), x);
        r = Fma.MultiplyAddNegated(n, Vector256.Create(-2.12194440e-4f), r);
        var p = Vector256.Create(1.9875691500E-4f);
        p = Fma.MultiplyAdd(p, r, Vector256.Create(1.3981999507E-3f));
        p = Fma.MultiplyAdd(p, r, Vector256.Create(8.3334519073E-3f));
        p = Fma.MultiplyAdd(p, r, Vector256.Create(4.1665795894E-2f));
        p = Fma.MultiplyAdd(p, r, Vector256.Create(1.6666665459E-1f));
        p = Fma.MultiplyAdd(p, r, Vector256.Create(5.0000001201E-1f));
        p = Fma.MultiplyAdd(p, Avx.Multiply(r, r), Avx.Add(r, Vector256.Create(1f)));
        var scale = Avx2.ShiftLeftLogical(Avx2.Add(Avx.ConvertToVector256Int32(n), Vector256.Create(127)), 23).AsSingle();
        return Avx.AndNot(underflow, Avx.Multiply(p, scale));
    }

    /// <summary>
    /// The exact (erf-based) GELU, <c>x · ½(1 + erf(x/√2))</c>, HF's <c>gelu</c>. erf by Abramowitz–Stegun 7.1.26
    /// (absolute error ≤ 1.5·10⁻⁷, below the float rounding of the result for |x| &gt; 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Gelu(Vector256<float> x)
    {
        var signMask = Vector256.Create(-0f);
        var z = Avx.Multiply(Avx.AndNot(signMask, x), Vector256.Create(0.70710678118654752f));   // |x| / √2
        var t = Avx.Divide(Vector256.Create(1f), Fma.MultiplyAdd(z, Vector256.Create(0.3275911f), Vector256.Create(1f)));
        var poly = Vector256.Create(1.061405429f);
        poly = Fma.MultiplyAdd(poly, t, Vector256.Create(-1.453152027f));
        poly = Fma.MultiplyAdd(poly, t, Vector256.Create(1.421413741f));
        poly = Fma.MultiplyAdd(poly, t, Vector256.Create(-0.284496736f));
        poly = Fma.MultiplyAdd(poly, t, Vector256.Create(0.254829592f));
        poly = Avx.Multiply(poly, t);
        var erf = Fma.MultiplyAddNegated(poly, Exp(Avx.Multiply(Avx.Subtract(Vector256<float>.Zero, z), z)), Vector256.Create(1f));
        erf = Avx.Or(erf, Avx.And(signMask, x));                                                  // erf is odd
        return Avx.Multiply(Avx.Multiply(x, Vector256.Create(0.5f)), Avx.Add(Vector256.Create(1f), erf));
    }

    /// <summary>The horizontal maximum of eight floats.</summary>
    public static float HorizontalMax(Vector256<float> v)
    {
        var m = Sse.Max(v.GetLower(), v.GetUpper());
        m = Sse.Max(m, Sse.Shuffle(m, m, 0b_01_00_11_10));
        m = Sse.Max(m, Sse.Shuffle(m, m, 0b_10_11_00_01));
        return m.ToScalar();
    }
}

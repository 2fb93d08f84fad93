using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Kernels;

/// <summary>
/// The elementwise functions the CPU kernels fuse, at 8 (AVX2/FMA) and 16 (AVX-512) lanes and in plain C#. The three
/// run the same operations in the same order, so every width gives the same bits.
/// </summary>
internal static class VectorMath
{
    private const float ExpLow = -87.33654f, ExpHigh = 88.37626f, Log2E = 1.44269504088896341f;
    private const float Ln2High = 0.693359375f, Ln2Low = -2.12194440e-4f;
    private const float P0 = 1.9875691500E-4f, P1 = 1.3981999507E-3f, P2 = 8.3334519073E-3f, P3 = 4.1665795894E-2f, P4 = 1.6666665459E-1f, P5 = 5.0000001201E-1f;
    private const float InvSqrt2 = 0.70710678118654752f, ErfP = 0.3275911f;
    private const float A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f, A4 = -1.453152027f, A5 = 1.061405429f;

    /// <summary>
    /// eˣ to about one ulp (Cephes <c>expf</c>: x = n·ln2 + r, a degree-6 polynomial in r, then 2ⁿ through the exponent
    /// bits); exactly 0 below −87.3, where the float result would underflow — so masked keys weigh nothing, as in torch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var underflow = Avx.CompareLessThan(x, Vector256.Create(ExpLow));
        x = Avx.Min(Avx.Max(x, Vector256.Create(ExpLow)), Vector256.Create(ExpHigh));
        var n = Avx.RoundToNearestInteger(Avx.Multiply(x, Vector256.Create(Log2E)));
        var r = Fma.MultiplyAddNegated(n, Vector256.Create(Ln2High), x);
        r = Fma.MultiplyAddNegated(n, Vector256.Create(Ln2Low), r);
        var p = Vector256.Create(P0);
        p = Fma.MultiplyAdd(p, r, Vector256.Create(P1));
        p = Fma.MultiplyAdd(p, r, Vector256.Create(P2));
        p = Fma.MultiplyAdd(p, r, Vector256.Create(P3));
        p = Fma.MultiplyAdd(p, r, Vector256.Create(P4));
        p = Fma.MultiplyAdd(p, r, Vector256.Create(P5));
        p = Fma.MultiplyAdd(p, Avx.Multiply(r, r), Avx.Add(r, Vector256.Create(1f)));
        var scale = Avx2.ShiftLeftLogical(Avx2.Add(Avx.ConvertToVector256Int32(n), Vector256.Create(127)), 23).AsSingle();
        return Avx.AndNot(underflow, Avx.Multiply(p, scale));
    }

    /// <inheritdoc cref="Exp(Vector256{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var underflow = Avx512F.CompareLessThan(x, Vector512.Create(ExpLow));
        x = Avx512F.Min(Avx512F.Max(x, Vector512.Create(ExpLow)), Vector512.Create(ExpHigh));
        var n = Avx512F.RoundScale(Avx512F.Multiply(x, Vector512.Create(Log2E)), 0);
        var r = Avx512F.FusedMultiplyAddNegated(n, Vector512.Create(Ln2High), x);
        r = Avx512F.FusedMultiplyAddNegated(n, Vector512.Create(Ln2Low), r);
        var p = Vector512.Create(P0);
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(P1));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(P2));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(P3));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(P4));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(P5));
        p = Avx512F.FusedMultiplyAdd(p, Avx512F.Multiply(r, r), Avx512F.Add(r, Vector512.Create(1f)));
        var scale = Avx512F.ShiftLeftLogical(Avx512F.Add(Avx512F.ConvertToVector512Int32(n), Vector512.Create(127)), 23).AsSingle();
        return Vector512.AndNot(Avx512F.Multiply(p, scale), underflow);
    }

    /// <inheritdoc cref="Exp(Vector256{float})"/>
    public static float Exp(float x)
    {
        bool underflow = x < ExpLow;
        x = x > ExpLow ? x : ExpLow; // maxps/minps semantics: a NaN takes the bound, as in the vector versions
        x = x < ExpHigh ? x : ExpHigh;
        float n = MathF.Round(x * Log2E, MidpointRounding.ToEven);
        float r = MathF.FusedMultiplyAdd(-n, Ln2High, x);
        r = MathF.FusedMultiplyAdd(-n, Ln2Low, r);
        float p = P0;
        p = MathF.FusedMultiplyAdd(p, r, P1);
        p = MathF.FusedMultiplyAdd(p, r, P2);
        p = MathF.FusedMultiplyAdd(p, r, P3);
        p = MathF.FusedMultiplyAdd(p, r, P4);
        p = MathF.FusedMultiplyAdd(p, r, P5);
        p = MathF.FusedMultiplyAdd(p, r * r, r + 1f);
        float scale = BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
        return underflow ? 0f : p * scale;
    }

    /// <summary>
    /// The exact (erf-based) GELU, <c>x · ½(1 + erf(x/√2))</c>, HF's <c>gelu</c>. erf by Abramowitz–Stegun 7.1.26
    /// (absolute error ≤ 1.5·10⁻⁷, below the float rounding of the result for |x| &gt; 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Gelu(Vector256<float> x)
    {
        var signMask = Vector256.Create(-0f);
        var z = Avx.Multiply(Avx.AndNot(signMask, x), Vector256.Create(InvSqrt2));                 // |x| / √2
        var t = Avx.Divide(Vector256.Create(1f), Fma.MultiplyAdd(z, Vector256.Create(ErfP), Vector256.Create(1f)));
        var poly = Vector256.Create(A5);
        poly = Fma.MultiplyAdd(poly, t, Vector256.Create(A4));
        poly = Fma.MultiplyAdd(poly, t, Vector256.Create(A3));
        poly = Fma.MultiplyAdd(poly, t, Vector256.Create(A2));
        poly = Fma.MultiplyAdd(poly, t, Vector256.Create(A1));
        poly = Avx.Multiply(poly, t);
        var erf = Fma.MultiplyAddNegated(poly, Exp(Avx.Multiply(Avx.Subtract(Vector256<float>.Zero, z), z)), Vector256.Create(1f));
        erf = Avx.Or(erf, Avx.And(signMask, x));                                                    // erf is odd
        return Avx.Multiply(Avx.Multiply(x, Vector256.Create(0.5f)), Avx.Add(Vector256.Create(1f), erf));
    }

    /// <inheritdoc cref="Gelu(Vector256{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Gelu(Vector512<float> x)
    {
        var signMask = Vector512.Create(-0f);
        var z = Avx512F.Multiply(Vector512.AndNot(x, signMask), Vector512.Create(InvSqrt2));
        var t = Avx512F.Divide(Vector512.Create(1f), Avx512F.FusedMultiplyAdd(z, Vector512.Create(ErfP), Vector512.Create(1f)));
        var poly = Vector512.Create(A5);
        poly = Avx512F.FusedMultiplyAdd(poly, t, Vector512.Create(A4));
        poly = Avx512F.FusedMultiplyAdd(poly, t, Vector512.Create(A3));
        poly = Avx512F.FusedMultiplyAdd(poly, t, Vector512.Create(A2));
        poly = Avx512F.FusedMultiplyAdd(poly, t, Vector512.Create(A1));
        poly = Avx512F.Multiply(poly, t);
        var erf = Avx512F.FusedMultiplyAddNegated(poly, Exp(Avx512F.Multiply(Avx512F.Subtract(Vector512<float>.Zero, z), z)), Vector512.Create(1f));
        erf = Vector512.BitwiseOr(erf, Vector512.BitwiseAnd(signMask, x));
        return Avx512F.Multiply(Avx512F.Multiply(x, Vector512.Create(0.5f)), Avx512F.Add(Vector512.Create(1f), erf));
    }

    /// <inheritdoc cref="Gelu(Vector256{float})"/>
    public static float Gelu(float x)
    {
        float z = MathF.Abs(x) * InvSqrt2;
        float t = 1f / MathF.FusedMultiplyAdd(z, ErfP, 1f);
        float poly = A5;
        poly = MathF.FusedMultiplyAdd(poly, t, A4);
        poly = MathF.FusedMultiplyAdd(poly, t, A3);
        poly = MathF.FusedMultiplyAdd(poly, t, A2);
        poly = MathF.FusedMultiplyAdd(poly, t, A1);
        poly *= t;
        float erf = MathF.FusedMultiplyAdd(-poly, Exp((0f - z) * z), 1f);
        erf = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(erf) | (BitConverter.SingleToInt32Bits(x) & int.MinValue)); // erf | sign(x)
        return x * 0.5f * (1f + erf);
    }

    private const float B1 = 0.0705230784f, B2 = 0.0422820123f, B3 = 0.0092705272f, B4 = 0.0001520143f, B5 = 0.0002765672f, B6 = 0.0000430638f;

    /// <summary>
    /// The fast mode's GELU, <c>x · Φ(x)</c> with erfc by Abramowitz–Stegun 7.1.28, <c>1 / (1 + b₁z + … + b₆z⁶)¹⁶</c>
    /// (absolute error ≤ 3·10⁻⁷; the GELU within 1·10⁻⁶ of the exact one, far below the 12-bit products around it): a
    /// polynomial, one division and four squarings, without the exponential of <see cref="Gelu(Vector512{float})"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> GeluFast(Vector512<float> x)
    {
        var z = Avx512F.Multiply(Vector512.AndNot(x, Vector512.Create(-0f)), Vector512.Create(InvSqrt2));
        var p = Vector512.Create(B6);
        p = Avx512F.FusedMultiplyAdd(p, z, Vector512.Create(B5));
        p = Avx512F.FusedMultiplyAdd(p, z, Vector512.Create(B4));
        p = Avx512F.FusedMultiplyAdd(p, z, Vector512.Create(B3));
        p = Avx512F.FusedMultiplyAdd(p, z, Vector512.Create(B2));
        p = Avx512F.FusedMultiplyAdd(p, z, Vector512.Create(B1));
        p = Avx512F.FusedMultiplyAdd(p, z, Vector512.Create(1f));
        var r = Avx512F.Divide(Vector512.Create(1f), p);
        r = Avx512F.Multiply(r, r);
        r = Avx512F.Multiply(r, r);
        r = Avx512F.Multiply(r, r);
        r = Avx512F.Multiply(r, r);
        var half = Avx512F.Multiply(r, Vector512.Create(0.5f));                                   // ½ erfc(|x|/√2)
        var phi = Vector512.ConditionalSelect(Avx512F.CompareGreaterThanOrEqual(x, Vector512<float>.Zero),
            Avx512F.Subtract(Vector512.Create(1f), half), half);
        return Avx512F.Multiply(x, phi);
    }

    /// <inheritdoc cref="GeluFast(Vector512{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> GeluFast(Vector256<float> x)
    {
        var z = Avx.Multiply(Avx.AndNot(Vector256.Create(-0f), x), Vector256.Create(InvSqrt2));
        var p = Vector256.Create(B6);
        p = Fma.MultiplyAdd(p, z, Vector256.Create(B5));
        p = Fma.MultiplyAdd(p, z, Vector256.Create(B4));
        p = Fma.MultiplyAdd(p, z, Vector256.Create(B3));
        p = Fma.MultiplyAdd(p, z, Vector256.Create(B2));
        p = Fma.MultiplyAdd(p, z, Vector256.Create(B1));
        p = Fma.MultiplyAdd(p, z, Vector256.Create(1f));
        var r = Avx.Divide(Vector256.Create(1f), p);
        r = Avx.Multiply(r, r);
        r = Avx.Multiply(r, r);
        r = Avx.Multiply(r, r);
        r = Avx.Multiply(r, r);
        var half = Avx.Multiply(r, Vector256.Create(0.5f));
        var phi = Avx.BlendVariable(half, Avx.Subtract(Vector256.Create(1f), half), Avx.CompareGreaterThanOrEqual(x, Vector256<float>.Zero));
        return Avx.Multiply(x, phi);
    }

    /// <inheritdoc cref="GeluFast(Vector512{float})"/>
    public static float GeluFast(float x)
    {
        float z = MathF.Abs(x) * InvSqrt2;
        float p = B6;
        p = MathF.FusedMultiplyAdd(p, z, B5);
        p = MathF.FusedMultiplyAdd(p, z, B4);
        p = MathF.FusedMultiplyAdd(p, z, B3);
        p = MathF.FusedMultiplyAdd(p, z, B2);
        p = MathF.FusedMultiplyAdd(p, z, B1);
        p = MathF.FusedMultiplyAdd(p, z, 1f);
        float r = 1f / p;
        r *= r;
        r *= r;
        r *= r;
        r *= r;
        float half = r * 0.5f;
        return x * (x >= 0 ? 1f - half : half);
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

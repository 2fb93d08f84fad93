using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Quantization;

/// <summary>
/// Dynamic per-row asymmetric quantisation of fp32 activations to [0, max]: <c>x ≈ scale · (q − zeroPoint)</c>, with
/// 0 exactly representable. The AVX2 and the scalar paths give identical bytes (same float operations, round half to even).
/// </summary>
internal static unsafe class ActivationQuantizer
{
    /// <summary>Quantises all rows of a row-major (rows × k) matrix; see the pointer overload.</summary>
    /// <param name="x">The fp32 rows.</param>
    /// <param name="k">Values per row.</param>
    /// <param name="max">The largest quantised value.</param>
    /// <param name="q">The quantised rows, <paramref name="paddedK"/> bytes apart.</param>
    /// <param name="paddedK">The output row stride.</param>
    /// <param name="scales">Per row, the scale.</param>
    /// <param name="zeroPoints">Per row, the zero point.</param>
    /// <param name="simd">Use AVX2 where supported.</param>
    /// <param name="inputScale">Per column, a factor applied to the value before quantising (length k), or empty for none.</param>
    public static void QuantizeRows(ReadOnlySpan<float> x, int k, int max, Span<byte> q, int paddedK, Span<float> scales, Span<int> zeroPoints,
        bool simd = true, ReadOnlySpan<float> inputScale = default)
    {
        int rows = x.Length / k;
        if (paddedK < k || q.Length < (long)rows * paddedK || scales.Length < rows || zeroPoints.Length < rows)
            throw new ArgumentException("Buffers too small.");
        if (!inputScale.IsEmpty && inputScale.Length != k) throw new ArgumentException($"Expected {k} input scales.", nameof(inputScale));
        fixed (float* px = x)
        fixed (byte* pq = q)
        fixed (float* ps = scales)
        fixed (int* pz = zeroPoints)
        fixed (float* pm = inputScale)
            QuantizeRows(px, k, 0, rows, max, pq, paddedK, ps, pz, simd, inputScale.IsEmpty ? null : pm);
    }

    /// <summary>
    /// Quantises rows [<paramref name="rowStart"/>, <paramref name="rowEnd"/>) of a row-major (rows × k) matrix into
    /// rows of <paramref name="paddedK"/> bytes (the padding zeroed).
    /// </summary>
    /// <param name="x">The fp32 rows.</param>
    /// <param name="k">Values per row.</param>
    /// <param name="rowStart">First row.</param>
    /// <param name="rowEnd">One past the last row.</param>
    /// <param name="max">The largest quantised value (255 or 127).</param>
    /// <param name="q">The quantised rows, <paramref name="paddedK"/> bytes apart.</param>
    /// <param name="paddedK">The output row stride, ≥ k.</param>
    /// <param name="scales">Per row, the scale.</param>
    /// <param name="zeroPoints">Per row, the zero point.</param>
    /// <param name="simd">Use AVX2 where supported.</param>
    /// <param name="inputScale">
    /// Per column, a factor m applied before quantising: the row quantised is <c>x ⊙ m</c> (k values), or null for none.
    /// Smoothing (see <see cref="Smoothing"/>) passes 1/s here and multiplies the weights' columns by s.
    /// </param>
    public static void QuantizeRows(float* x, int k, int rowStart, int rowEnd, int max, byte* q, int paddedK,
        float* scales, int* zeroPoints, bool simd = true, float* inputScale = null)
    {
        if (inputScale is not null)
        {
            QuantizeScaledRows(x, k, rowStart, rowEnd, max, q, paddedK, scales, zeroPoints, simd && Avx2.IsSupported, inputScale);
            return;
        }
        bool avx = simd && Avx2.IsSupported;
        for (int r = rowStart; r < rowEnd; r++)
        {
            float* row = x + (long)r * k;
            byte* dst = q + (long)r * paddedK;
            (float lo, float hi) = avx ? MinMaxAvx(row, k) : MinMaxScalar(row, k, 0);
            lo = MathF.Min(lo, 0f);
            hi = MathF.Max(hi, 0f);
            float scale = (hi - lo) / max;
            if (!(scale > 0) || !float.IsFinite(scale)) scale = 1f; // all zeros (or non-finite input)
            float inverse = 1f / scale;
            int zero = Math.Clamp((int)MathF.Round(-lo * inverse), 0, max);
            scales[r] = scale;
            zeroPoints[r] = zero;
            int done = avx ? QuantizeAvx(row, k, inverse, zero, max, dst) : 0;
            for (int i = done; i < k; i++) dst[i] = QuantizeOne(row[i], inverse, zero, max);
            for (int i = k; i < paddedK; i++) dst[i] = 0;
        }
    }

    /// <summary>
    /// <see cref="QuantizeRows(float*, int, int, int, int, byte*, int, float*, int*, bool, float*)"/> of <c>x ⊙ m</c>:
    /// the same range, zero point and rounding as quantising the product row, computed without writing it.
    /// </summary>
    private static void QuantizeScaledRows(float* x, int k, int rowStart, int rowEnd, int max, byte* q, int paddedK,
        float* scales, int* zeroPoints, bool avx, float* m)
    {
        for (int r = rowStart; r < rowEnd; r++)
        {
            float* row = x + (long)r * k;
            byte* dst = q + (long)r * paddedK;
            float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
            int i = 0;
            if (avx)
            {
                var vlo = Vector256.Create(float.PositiveInfinity);
                var vhi = Vector256.Create(float.NegativeInfinity);
                for (; i + 8 <= k; i += 8)
                {
                    var v = Avx.Multiply(Avx.LoadVector256(row + i), Avx.LoadVector256(m + i));
                    vlo = Avx.Min(vlo, v);
                    vhi = Avx.Max(vhi, v);
                }
                for (int j = 0; j < 8; j++)
                {
                    lo = MathF.Min(lo, vlo.GetElement(j));
                    hi = MathF.Max(hi, vhi.GetElement(j));
                }
            }
            for (; i < k; i++)
            {
                float v = row[i] * m[i];
                lo = MathF.Min(lo, v);
                hi = MathF.Max(hi, v);
            }
            lo = MathF.Min(lo, 0f);
            hi = MathF.Max(hi, 0f);
            float scale = (hi - lo) / max;
            if (!(scale > 0) || !float.IsFinite(scale)) scale = 1f;
            float inverse = 1f / scale;
            int zero = Math.Clamp((int)MathF.Round(-lo * inverse), 0, max);
            scales[r] = scale;
            zeroPoints[r] = zero;
            int done = 0;
            if (avx)
            {
                var inv = Vector256.Create(inverse);
                var z = Vector256.Create(zero);
                var top = Vector256.Create((byte)max);
                var order = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
                for (; done + 32 <= k; done += 32)
                {
                    var a = Avx2.Add(Avx.ConvertToVector256Int32(Avx.Multiply(Avx.Multiply(Avx.LoadVector256(row + done), Avx.LoadVector256(m + done)), inv)), z);
                    var b = Avx2.Add(Avx.ConvertToVector256Int32(Avx.Multiply(Avx.Multiply(Avx.LoadVector256(row + done + 8), Avx.LoadVector256(m + done + 8)), inv)), z);
                    var c = Avx2.Add(Avx.ConvertToVector256Int32(Avx.Multiply(Avx.Multiply(Avx.LoadVector256(row + done + 16), Avx.LoadVector256(m + done + 16)), inv)), z);
                    var d = Avx2.Add(Avx.ConvertToVector256Int32(Avx.Multiply(Avx.Multiply(Avx.LoadVector256(row + done + 24), Avx.LoadVector256(m + done + 24)), inv)), z);
                    var bytes = Avx2.PackUnsignedSaturate(Avx2.PackSignedSaturate(a, b), Avx2.PackSignedSaturate(c, d));
                    bytes = Avx2.PermuteVar8x32(bytes.AsInt32(), order).AsByte();
                    Avx.Store(dst + done, Avx2.Min(bytes, top));
                }
            }
            for (int j = done; j < k; j++) dst[j] = QuantizeOne(row[j] * m[j], inverse, zero, max);
            for (int j = k; j < paddedK; j++) dst[j] = 0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte QuantizeOne(float v, float inverse, int zero, int max)
    {
        float p = v * inverse;
        int i = float.IsNaN(p) ? 0 : (int)Math.Clamp(MathF.Round(p), -65536f, 65536f); // cvtps2dq: round half to even
        return (byte)Math.Clamp(i + zero, 0, max);
    }

    private static (float Lo, float Hi) MinMaxScalar(float* row, int k, int start)
    {
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        for (int i = start; i < k; i++)
        {
            lo = MathF.Min(lo, row[i]);
            hi = MathF.Max(hi, row[i]);
        }
        return (lo, hi);
    }

    private static (float Lo, float Hi) MinMaxAvx(float* row, int k)
    {
        var lo = Vector256.Create(float.PositiveInfinity);
        var hi = Vector256.Create(float.NegativeInfinity);
        int i = 0;
        for (; i + 8 <= k; i += 8)
        {
            var v = Avx.LoadVector256(row + i);
            lo = Avx.Min(lo, v);
            hi = Avx.Max(hi, v);
        }
        var (tlo, thi) = MinMaxScalar(row, k, i);
        for (int j = 0; j < 8; j++)
        {
            tlo = MathF.Min(tlo, lo.GetElement(j));
            thi = MathF.Max(thi, hi.GetElement(j));
        }
        return (tlo, thi);
    }

    /// <summary>Quantises the first multiple of 32 values of a row; returns how many.</summary>
    private static int QuantizeAvx(float* row, int k, float inverse, int zero, int max, byte* dst)
    {
        var inv = Vector256.Create(inverse);
        var z = Vector256.Create(zero);
        var top = Vector256.Create((byte)max);
        var order = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
        int i = 0;
        for (; i + 32 <= k; i += 32)
        {
            var a = Avx2.Add(Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(row + i), inv)), z);
            var b = Avx2.Add(Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(row + i + 8), inv)), z);
            var c = Avx2.Add(Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(row + i + 16), inv)), z);
            var d = Avx2.Add(Avx.ConvertToVector256Int32(Avx.Multiply(Avx.LoadVector256(row + i + 24), inv)), z);
            var ab = Avx2.PackSignedSaturate(a, b);
            var cd = Avx2.PackSignedSaturate(c, d);
            var bytes = Avx2.PackUnsignedSaturate(ab, cd);
            bytes = Avx2.PermuteVar8x32(bytes.AsInt32(), order).AsByte();
            Avx.Store(dst + i, Avx2.Min(bytes, top));
        }
        return i;
    }
}

using TransformerEmbeddings.Quantization;
using Xunit;

namespace TransformerEmbeddings.Tests.Quantization;

/// <summary>The int8 kernel equals a straightforward integer GEMM, bit for bit, on ragged shapes; AVX2 and scalar agree.</summary>
public sealed class Int8GemmTests
{
    public static TheoryData<int, int, int, int, int> Shapes() => new()
    {
        // M, N, K, activation max, weight max
        { 1, 1, 1, 255, 63 },
        { 4, 16, 4, 255, 63 },
        { 3, 17, 5, 127, 127 },
        { 5, 15, 7, 255, 63 },
        { 7, 33, 13, 127, 127 },
        { 9, 40, 64, 255, 63 },
        { 13, 50, 130, 127, 127 },
        { 64, 48, 384, 255, 63 },
        { 67, 97, 387, 127, 127 },
        { 33, 20, 1539, 255, 63 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Kernel_equals_the_reference_integer_gemm(int m, int n, int k, int aMax, int wMax)
    {
        var rnd = new Random(m * 1000 + n * 10 + k);
        var weights = QuantizedLinearWeights.Quantize(RandomFloats(rnd, n * k), n, k, new QuantizationScheme(aMax, wMax));
        int kp = weights.PaddedInFeatures, paddedRows = (m + Int8Gemm.RowBlock - 1) / Int8Gemm.RowBlock * Int8Gemm.RowBlock;
        var a = new byte[paddedRows * kp];
        for (int r = 0; r < m; r++)
            for (int c = 0; c < k; c++)
                a[r * kp + c] = (byte)rnd.Next(aMax + 1);
        // Extremes too: the largest products must not saturate.
        for (int c = 0; c < k; c++) a[c] = (byte)aMax;

        var expected = new int[m * n];
        for (int r = 0; r < m; r++)
            for (int j = 0; j < n; j++)
            {
                int sum = 0;
                for (int c = 0; c < k; c++) sum += a[r * kp + c] * weights[j, c];
                expected[r * n + j] = sum;
            }

        foreach (bool simd in new[] { true, false })
        {
            var actual = new int[m * n];
            Int8Gemm.MultiplyInt32(a, weights, m, actual, simd);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void Weights_round_trip_within_half_a_step_per_channel()
    {
        var rnd = new Random(3);
        int n = 37, k = 29;
        var w = RandomFloats(rnd, n * k);
        var q = QuantizedLinearWeights.Quantize(w, n, k, QuantizationScheme.ReducedWeights);
        for (int j = 0; j < n; j++)
        {
            int sum = 0;
            for (int c = 0; c < k; c++)
            {
                Assert.InRange(q[j, c], -63, 63);
                Assert.True(MathF.Abs(q[j, c] * q.Scales[j] - w[j * k + c]) <= q.Scales[j] * 0.5f + 1e-6f);
                sum += q[j, c];
            }
            Assert.Equal(sum, q.ColumnSums[j]);
        }
    }

    [Fact]
    public void Saturating_schemes_are_refused()
    {
        Assert.False(new QuantizationScheme(255, 127).IsSaturationFree);
        Assert.True(QuantizationScheme.ReducedWeights.IsSaturationFree);
        Assert.True(QuantizationScheme.ReducedActivations.IsSaturationFree);
        Assert.Throws<ArgumentException>(() => QuantizedLinearWeights.Quantize(new float[4], 2, 2, new QuantizationScheme(255, 127)));
    }

    internal static float[] RandomFloats(Random rnd, int count, float scale = 1f)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float)(rnd.NextDouble() * 2 - 1) * scale;
        return v;
    }
}

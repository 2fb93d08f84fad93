using CsCheck;
using TorchSharp;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Runtime;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>
/// The fast mode's 12-bit integer GEMM: activation quantisation, the kernel against the same integer arithmetic done in
/// float64, its distance to the fp32 linear against the bound quantisation allows, threads, non-finite input, dispatch.
/// </summary>
public sealed class Int16LinearTests
{
    public Int16LinearTests() => NativeRuntime.EnsureLoaded();

    private static float[] Random(Random rnd, int count, double scale = 1) =>
        Enumerable.Range(0, count).Select(_ => (float)((rnd.NextDouble() * 2 - 1) * scale)).ToArray();

    private static (short[] Q, float Scale) QuantizeRow(float[] x)
    {
        var q = new short[x.Length + 1];
        return (q, Int16Gemm.Quantize(x, q));
    }

    [Fact]
    public void Quantize_rounds_each_row_to_12_bits_of_its_largest_magnitude()
    {
        Gen.Int[1, 70].Select(Gen.Int[0, 1000]).Sample((k, seed) =>
        {
            var x = Random(new Random(seed), k, 3);
            var (q, scale) = QuantizeRow(x);
            float max = x.Max(MathF.Abs);
            Assert.Equal(max / Int16Gemm.Levels, scale);
            for (int i = 0; i < k; i++)
            {
                Assert.InRange(q[i], -Int16Gemm.Levels, Int16Gemm.Levels);
                // Within half a step (a hair more: the kernel multiplies by 2047 / max instead of dividing by the scale).
                Assert.True(MathF.Abs(q[i] * scale - x[i]) <= 0.501f * scale, $"x[{i}] = {x[i]} → {q[i]} · {scale}");
            }
            Assert.Contains(q.Take(k), v => Math.Abs(v) == Int16Gemm.Levels); // the largest uses the whole range
            if (k % 2 == 1) Assert.Equal(0, q[k]);                              // an odd K is padded with a zero
        }, iter: 100);
    }

    [Fact]
    public void Quantize_marks_rows_with_NaN_or_infinity()
    {
        foreach (var bad in new[] { float.NaN, float.PositiveInfinity })
            foreach (int at in new[] { 0, 9, 20 }) // in the vector body and the scalar tail
            {
                var x = Random(new Random(at), 21);
                x[at] = bad;
                Assert.True(float.IsNaN(QuantizeRow(x).Scale), $"{bad} at {at}");
            }
        Assert.Equal(0f, QuantizeRow(new float[5]).Scale); // all zeros stays zeros
    }

    [Fact]
    public void Kernel_matches_the_same_integer_arithmetic_for_random_shapes()
    {
        // Rows around the 6-row tile, K odd and even and across two flushes of the 32-bit sums (192 pairs each), N around
        // the 16-wide panel.
        Gen.Select(Gen.Int[1, 40], Gen.Int[1, 900], Gen.Int[1, 40], Gen.Bool, Gen.Int[0, 1000]).Sample((m, k, n, withBias, seed) =>
        {
            var rnd = new Random(seed);
            var w = Random(rnd, n * k, 0.1);
            var b = withBias ? Random(rnd, n) : [];
            var x = Random(rnd, m * k, 2);
            var packed = Int16Weights.Pack(w, b, n, k);
            var linear = Int16Linear.TryCreate(tensor(w).view(n, k), withBias ? tensor(b) : null)!;
            var y = new float[m * n];
            linear.Forward(x, y, m);
            for (int r = 0; r < m; r++)
            {
                var (qx, sx) = QuantizeRow(x[(r * k)..((r + 1) * k)]);
                for (int c = 0; c < n; c++)
                {
                    long sum = 0;
                    for (int i = 0; i < k; i++) sum += qx[i] * (long)Unpacked(packed, c, i);
                    double expected = (double)sx * packed.Scales[c] * sum + (withBias ? b[c] : 0);
                    double magnitude = Math.Abs((double)sx * packed.Scales[c] * Int16Gemm.Levels * Int16Gemm.Levels * k) + 1;
                    Assert.True(Math.Abs(y[r * n + c] - expected) <= 1e-6 * magnitude, $"{m}×{k}×{n} [{r}, {c}]: {y[r * n + c]} vs {expected}");
                }
            }
        }, iter: 40);
    }

    private static short Unpacked(Int16Weights w, int channel, int k) =>
        w.Packed[(channel / Int16Gemm.PanelWidth * w.Pairs + k / 2) * 2 * Int16Gemm.PanelWidth + (channel % Int16Gemm.PanelWidth) * 2 + k % 2];

    [Theory]
    [InlineData(16, 384, 1152)]
    [InlineData(97, 1536, 384)]
    [InlineData(300, 384, 1536)]
    public void Stays_within_the_quantisation_bound_of_the_fp32_linear(int m, int k, int n)
    {
        using var scope = NewDisposeScope();
        var w = randn(n, k) * 0.05f;
        var b = randn(n);
        var x = randn(2, m, k);
        x[0, 0, 7] = 25f; // an outlier channel, as in MiniLM's residual stream
        var y = Int16Linear.TryCreate(w, b)!.Forward(x, gelu: false).to(ScalarType.Float64);
        var exact = nn.functional.linear(x.to(ScalarType.Float64), w.to(ScalarType.Float64), b.to(ScalarType.Float64));
        // x = sx·(qx + ex), w = sw·(qw + ew) with |e| ≤ ½: the product's error is at most
        // ½·sw·Σ|x| + ½·sx·Σ|w| + ¼·K·sx·sw per output (plus fp32 rounding).
        var sx = x.abs().amax([-1], keepdim: true).to(ScalarType.Float64) / Int16Gemm.Levels;         // (2, m, 1)
        var sw = w.abs().amax([-1]).to(ScalarType.Float64) / Int16Gemm.Levels;                         // (n)
        var bound = 0.5 * sw * x.abs().sum([-1], keepdim: true).to(ScalarType.Float64)
                    + 0.5 * sx * w.abs().sum([-1]).to(ScalarType.Float64)
                    + 0.25 * k * sx * sw + 1e-5 * (exact.abs() + 1);
        var excess = ((y - exact).abs() - bound).max().item<double>();
        Assert.True(excess <= 0, $"error exceeds the quantisation bound by {excess}");
        // The bound is a worst case (linear in K); the typical error is far smaller: 12 bits, not 8.
        var typical = ((y - exact).abs().mean() / exact.abs().mean()).item<double>();
        Assert.True(typical < 1e-3, $"mean error {typical} of the mean output");

        var gelu = Int16Linear.TryCreate(w, b)!.Forward(x, gelu: true);
        Assert.True((gelu - y.to(ScalarType.Float32).gelu()).abs().max().item<float>() < 1e-5f, "fused GELU");
    }

    [Fact]
    public void Threads_change_nothing_bit_for_bit()
    {
        var rnd = new Random(5);
        int m = 300, k = 1536, n = 384;
        var linear = Int16Linear.TryCreate(tensor(Random(rnd, n * k, 0.1)).view(n, k), tensor(Random(rnd, n)))!;
        LinearKernelAssert.ThreadsChangeNothing(linear, Random(rnd, m * k), m);
    }

    [Fact]
    public void A_row_with_NaN_gives_NaN_and_leaves_the_other_rows_alone()
    {
        var rnd = new Random(3);
        int m = 8, k = 40, n = 20;
        var linear = Int16Linear.TryCreate(tensor(Random(rnd, n * k)).view(n, k), null)!;
        var x = Random(rnd, m * k);
        var clean = new float[m * n];
        linear.Forward(x, clean, m);
        x[3 * k + 5] = float.NaN;
        var y = new float[m * n];
        linear.Forward(x, y, m);
        for (int r = 0; r < m; r++)
            for (int c = 0; c < n; c++)
                if (r == 3) Assert.True(float.IsNaN(y[r * n + c]));
                else Assert.Equal(clean[r * n + c], y[r * n + c]);
    }

    [Fact]
    public void Linear_takes_the_integer_path_only_inside_its_scope()
    {
        using var scope = NewDisposeScope();
        var w = randn(24, 40);
        var b = randn(24);
        var x = randn(5, 40);
        var cache = new KernelCache();
        var exact = PackedLinear.Linear(x, w, b, cache);
        Assert.NotNull(cache.Float32);
        Assert.Null(cache.Int16);
        Tensor fast;
        using (Int16Linear.Use(true))
        {
            Assert.True(Int16Linear.Active);
            fast = PackedLinear.Linear(x, w, b, cache);
        }
        Assert.False(Int16Linear.Active);
        Assert.NotNull(cache.Int16);
        Assert.True(fast.allclose(Int16Linear.TryCreate(w, b)!.Forward(x), rtol: 0, atol: 0));
        Assert.False(fast.allclose(exact, rtol: 0, atol: 0)); // it really is another path…
        Assert.True(fast.allclose(exact, rtol: 0, atol: 0.05));  // …computing the same layer
        Assert.True(PackedLinear.Linear(x, w, b, cache).allclose(exact, rtol: 0, atol: 0));
    }
}

using CsCheck;
using TorchSharp;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Kernels.Gemm;
using TransformerEmbeddings.Kernels.Linear;
using TransformerEmbeddings.Runtime;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>
/// The fast mode's 12-bit integer GEMM on every instruction set this machine runs: activation quantisation, the kernel
/// against the same integer arithmetic done in 64-bit integers, the same bits on every ISA, its distance to the fp32
/// linear against the bound quantisation allows, threads, non-finite input.
/// </summary>
public sealed class QgemmTests
{
    public QgemmTests() => NativeRuntime.EnsureLoaded();

    private static (short[] Q, float Scale) QuantizeRow(float[] x)
    {
        var q = new short[x.Length + 1];
        return (q, Qgemm.Quantize(x, q));
    }

    [Fact]
    public void Quantize_rounds_each_row_to_12_bits_of_its_largest_magnitude()
    {
        Gen.Int[1, 100].Select(Gen.Int[0, 1000]).Sample((k, seed) =>
        {
            var x = KernelTables.Random(new Random(seed), k, 3);
            var (q, scale) = QuantizeRow(x);
            float max = x.Max(MathF.Abs);
            Assert.Equal(max / Qgemm.Levels, scale);
            for (int i = 0; i < k; i++)
            {
                Assert.InRange(q[i], -Qgemm.Levels, Qgemm.Levels);
                // Within half a step (a hair more: the kernel multiplies by 2047 / max instead of dividing by the scale).
                Assert.True(MathF.Abs(q[i] * scale - x[i]) <= 0.501f * scale, $"x[{i}] = {x[i]} → {q[i]} · {scale}");
                // Exactly the definition, whichever vector width ran (512-, 256-bit bodies and the scalar tail).
                Assert.Equal((short)MathF.Round(x[i] * (Qgemm.Levels / max), MidpointRounding.ToEven), q[i]);
            }
            Assert.Contains(q.Take(k), v => Math.Abs(v) == Qgemm.Levels); // the largest uses the whole range
            if (k % 2 == 1) Assert.Equal(0, q[k]);                           // an odd K is padded with a zero
        }, iter: 100);
    }

    [Fact]
    public void Quantize_marks_rows_with_NaN_or_infinity()
    {
        foreach (var bad in new[] { float.NaN, float.PositiveInfinity })
            foreach (int at in new[] { 0, 9, 20, 27 }) // in the 16- and 8-lane bodies and the scalar tail
            {
                var x = KernelTables.Random(new Random(at), 29);
                x[at] = bad;
                Assert.True(float.IsNaN(QuantizeRow(x).Scale), $"{bad} at {at}");
            }
        Assert.Equal(0f, QuantizeRow(new float[5]).Scale); // all zeros stays zeros
    }

    [Theory]
    [MemberData(nameof(KernelTables.IntegerNames), MemberType = typeof(KernelTables))]
    public void Kernel_matches_the_same_integer_arithmetic_for_random_shapes(string kernelName)
    {
        var table = KernelTables.IntegerTable(kernelName);
        // Rows around the tiles, K odd and even and across two flushes of the 32-bit sums (192 pairs each), N around
        // the 8-, 16- and 48-wide panels.
        Gen.Select(Gen.Int[1, 40], Gen.Int[1, 900], Gen.Int[1, 110], Gen.Bool, Gen.Int[0, 1000]).Sample((m, k, n, withBias, seed) =>
        {
            var rnd = new Random(seed);
            var w = KernelTables.Random(rnd, n * k, 0.1);
            var b = withBias ? KernelTables.Random(rnd, n) : [];
            var x = KernelTables.Random(rnd, m * k, 2);
            var packed = Int16Weights.Pack(w, b, n, k, table.Qgemm.Columns);
            var y = new float[m * n];
            Int16Linear.FromWeights(w, b, n, k, table).Forward(x, y, m);
            for (int r = 0; r < m; r++)
            {
                var (qx, sx) = QuantizeRow(x[(r * k)..((r + 1) * k)]);
                for (int c = 0; c < n; c++)
                {
                    long sum = 0;
                    for (int i = 0; i < k; i++) sum += qx[i] * (long)Unpacked(packed, c, i);
                    double expected = (double)sx * packed.Scales[c] * sum + (withBias ? b[c] : 0);
                    double magnitude = Math.Abs((double)sx * packed.Scales[c] * Qgemm.Levels * Qgemm.Levels * k) + 1;
                    Assert.True(Math.Abs(y[r * n + c] - expected) <= 1e-6 * magnitude, $"{table} {m}×{k}×{n} [{r}, {c}]: {y[r * n + c]} vs {expected}");
                }
            }
        }, iter: 30);
    }

    private static short Unpacked(Int16Weights w, int channel, int k) =>
        w.Values[(channel / w.Width * w.Pairs + k / 2) * 2 * w.Width + (channel % w.Width) * 2 + k % 2];

    [Fact]
    public void Every_instruction_set_gives_the_same_bits()
    {
        Gen.Select(Gen.Int[1, 100], Gen.Int[1, 900], Gen.Int[1, 110], Gen.Bool, Gen.Int[0, 1000]).Sample((m, k, n, gelu, seed) =>
        {
            var rnd = new Random(seed);
            var w = KernelTables.Random(rnd, n * k, 0.1);
            var b = KernelTables.Random(rnd, n);
            var x = KernelTables.Random(rnd, m * k, 2);
            float[]? reference = null;
            foreach (var table in KernelTables.Integer())
            {
                var y = new float[m * n];
                Int16Linear.FromWeights(w, b, n, k, table).Forward(x, y, m, threads: 2, gelu: gelu);
                if (reference is null) reference = y;
                else Assert.Equal(reference, y);
            }
        }, iter: 30);
    }

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
        var linear = new Int16Linear(w, b, KernelTable.For(KernelTable.Best));
        var y = linear.Forward(x, gelu: false).to(ScalarType.Float64);
        var exact = nn.functional.linear(x.to(ScalarType.Float64), w.to(ScalarType.Float64), b.to(ScalarType.Float64));
        // x = sx·(qx + ex), w = sw·(qw + ew) with |e| ≤ ½: the product's error is at most
        // ½·sw·Σ|x| + ½·sx·Σ|w| + ¼·K·sx·sw per output (plus fp32 rounding).
        var sx = x.abs().amax([-1], keepdim: true).to(ScalarType.Float64) / Qgemm.Levels;         // (2, m, 1)
        var sw = w.abs().amax([-1]).to(ScalarType.Float64) / Qgemm.Levels;                         // (n)
        var bound = 0.5 * sw * x.abs().sum([-1], keepdim: true).to(ScalarType.Float64)
                    + 0.5 * sx * w.abs().sum([-1]).to(ScalarType.Float64)
                    + 0.25 * k * sx * sw + 1e-5 * (exact.abs() + 1);
        var excess = ((y - exact).abs() - bound).max().item<double>();
        Assert.True(excess <= 0, $"error exceeds the quantisation bound by {excess}");
        // The bound is a worst case (linear in K); the typical error is far smaller: 12 bits, not 8.
        var typical = ((y - exact).abs().mean() / exact.abs().mean()).item<double>();
        Assert.True(typical < 1e-3, $"mean error {typical} of the mean output");

        var gelu = linear.Forward(x, gelu: true);
        Assert.True((gelu - y.to(ScalarType.Float32).gelu()).abs().max().item<float>() < 1e-5f, "fused GELU");
    }

    [Fact]
    public void Threads_change_nothing_bit_for_bit()
    {
        var rnd = new Random(5);
        int m = 300, k = 1536, n = 384;
        var w = KernelTables.Random(rnd, n * k, 0.1);
        var b = KernelTables.Random(rnd, n);
        var x = KernelTables.Random(rnd, m * k);
        foreach (var table in KernelTables.Integer())
            LinearKernelAssert.ThreadsChangeNothing(Int16Linear.FromWeights(w, b, n, k, table), x, m);
    }

    [Fact]
    public void A_row_with_NaN_gives_NaN_and_leaves_the_other_rows_alone()
    {
        var rnd = new Random(3);
        int m = 8, k = 40, n = 20;
        var w = KernelTables.Random(rnd, n * k);
        foreach (var table in KernelTables.Integer())
        {
            var linear = Int16Linear.FromWeights(w, [], n, k, table);
            var x = KernelTables.Random(rnd, m * k);
            var clean = new float[m * n];
            linear.Forward(x, clean, m);
            x[3 * k + 5] = float.NaN;
            var y = new float[m * n];
            linear.Forward(x, y, m);
            for (int r = 0; r < m; r++)
                for (int c = 0; c < n; c++)
                    if (r == 3) Assert.True(float.IsNaN(y[r * n + c]), $"{table}");
                    else Assert.Equal(clean[r * n + c], y[r * n + c]);
        }
    }

    [Fact]
    public void Weights_with_NaN_are_refused_when_packed()
    {
        var w = new float[12];
        w[5] = float.NaN;
        Assert.Throws<ArgumentException>(() => Int16Weights.Pack(w, [], 3, 4, 8));
    }
}

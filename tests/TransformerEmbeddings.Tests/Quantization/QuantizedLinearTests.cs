using TorchSharp;
using TransformerEmbeddings.Quantization;
using TransformerEmbeddings.Runtime;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Quantization;

/// <summary>QuantizedLinear against TorchSharp's fp32 linear, its portable path, and its allocations.</summary>
public sealed class QuantizedLinearTests
{
    public QuantizedLinearTests() => NativeRuntime.EnsureLoaded();

    public static TheoryData<int, int, int> Shapes() => new()
    {
        { 1, 384, 384 }, { 16, 384, 1536 }, { 37, 1536, 384 }, { 130, 7, 45 }, { 5, 3, 50 }, { 300, 384, 384 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Matches_fp32_linear_within_quantisation_error(int m, int k, int n)
    {
        foreach (var scheme in new[] { QuantizationScheme.ReducedActivations, QuantizationScheme.ReducedWeights })
        {
            using var scope = NewDisposeScope();
            var gen = manual_seed(m + k + n);
            var w = randn(n, k) * 0.05f;
            var b = randn(n);
            var x = randn(2, m, k) + 0.3f; // 3-D, not centred: exercises the zero points
            var q = QuantizedLinear.FromWeights(w, b, scheme);
            var y = q.Forward(x);
            var exact = nn.functional.linear(x, w, b);
            Assert.Equal(exact.shape, y.shape);
            // Error of the integer dot product, relative to the fp32 result without bias (a few tenths of a percent
            // for ~7-bit operands on random data).
            double relative = (y - exact).norm().item<float>() / (exact - b).norm().item<float>();
            Assert.True(relative < 0.02, $"{scheme}: relative error {relative}");
        }
    }

    [Fact]
    public void Non_contiguous_input_and_no_bias()
    {
        using var scope = NewDisposeScope();
        var w = randn(24, 40);
        var x = randn(40, 10).t(); // (10, 40), not contiguous
        var q = QuantizedLinear.FromWeights(w, null);
        var relative = (q.Forward(x) - nn.functional.linear(x, w)).norm().item<float>() / nn.functional.linear(x, w).norm().item<float>();
        Assert.True(relative < 0.02, $"relative error {relative}");
    }

    [Theory]
    [InlineData(1, 384, 384)]
    [InlineData(67, 387, 97)]
    [InlineData(256, 1536, 384)]
    public void Scalar_fallback_equals_the_avx2_path_bit_for_bit(int m, int k, int n)
    {
        var rnd = new Random(m);
        var w = Int8GemmTests.RandomFloats(rnd, n * k, 0.05f);
        var b = Int8GemmTests.RandomFloats(rnd, n);
        var x = Int8GemmTests.RandomFloats(rnd, m * k, 3f);
        x[0] = 40f; // an outlier
        foreach (var scheme in new[] { QuantizationScheme.ReducedActivations, QuantizationScheme.ReducedWeights })
        {
            var q = QuantizedLinear.FromWeights(w, b, n, k, scheme);
            var fast = new float[m * n];
            var slow = new float[m * n];
            q.Forward(x, fast, m);
            q.UseSimd = false;
            q.Forward(x, slow, m);
            Assert.Equal(slow, fast);
        }
    }

    [Fact]
    public void Activation_quantizer_paths_agree_and_zero_is_exact()
    {
        var rnd = new Random(5);
        int rows = 9, k = 77, kp = 80;
        var x = Int8GemmTests.RandomFloats(rnd, rows * k, 2f);
        for (int i = 0; i < k; i++) x[2 * k + i] = 0f;          // an all-zero row
        for (int i = 0; i < k; i++) x[3 * k + i] = 1f + i;      // all positive
        foreach (int max in new[] { 127, 255 })
        {
            var q1 = new byte[rows * kp]; var q2 = new byte[rows * kp];
            var s1 = new float[rows]; var s2 = new float[rows];
            var z1 = new int[rows]; var z2 = new int[rows];
            ActivationQuantizer.QuantizeRows(x, k, max, q1, kp, s1, z1, simd: true);
            ActivationQuantizer.QuantizeRows(x, k, max, q2, kp, s2, z2, simd: false);
            Assert.Equal(q2, q1);
            Assert.Equal(s2, s1);
            Assert.Equal(z2, z1);
            Assert.Equal(0, z1[3]);
            for (int r = 0; r < rows; r++)
                for (int i = 0; i < k; i++)
                {
                    Assert.InRange(q1[r * kp + i], 0, max);
                    Assert.True(MathF.Abs(s1[r] * (q1[r * kp + i] - z1[r]) - x[r * k + i]) <= s1[r] * 0.5001f);
                }
        }
    }

    [Fact]
    public void A_call_allocates_nothing_but_its_output()
    {
        var rnd = new Random(9);
        int m = 512, k = 384, n = 1536;
        var q = QuantizedLinear.FromWeights(Int8GemmTests.RandomFloats(rnd, n * k, 0.05f), Int8GemmTests.RandomFloats(rnd, n), n, k);
        var x = Int8GemmTests.RandomFloats(rnd, m * k);
        var y = new float[m * n];
        q.Forward(x, y, m); // warm-up: workers, pooled buffers, JIT
        q.Forward(x, y, m);
        // The fewest bytes over a few rounds: a per-call allocation shows in every round, while the shared ArrayPool
        // refilling itself once after other tests' garbage collections trimmed it does not.
        Assert.Equal(0, FewestBytesAllocated(() => q.Forward(x, y, m)));

        using var xt = tensor(x, [m, k]);
        q.Forward(xt).Dispose();
        long perCall = FewestBytesAllocated(() => q.Forward(xt).Dispose());
        Assert.True(perCall < 1024, $"{perCall} bytes per call"); // the output Tensor object and its shape only
    }

    private static long FewestBytesAllocated(Action call, int rounds = 5, int callsPerRound = 10)
    {
        long fewest = long.MaxValue;
        for (int r = 0; r < rounds; r++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < callsPerRound; i++) call();
            fewest = Math.Min(fewest, (GC.GetAllocatedBytesForCurrentThread() - before) / callsPerRound);
        }
        return fewest;
    }

    [Fact]
    public void Tensor_bytes_is_a_view_of_native_memory()
    {
        using var t = zeros(3, 3);
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.bytes)[4] = 42f;
        Assert.Equal(42f, t[1, 1].item<float>());
    }
}

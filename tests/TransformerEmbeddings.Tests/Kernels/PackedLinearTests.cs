using CsCheck;
using TorchSharp;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Runtime;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>The packed fp32 GEMM against libtorch's linear: every shape edge, threading, fallbacks, and inside the model.</summary>
public sealed class PackedLinearTests
{
    public PackedLinearTests() => NativeRuntime.EnsureLoaded();

    private static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        // Same products, summed in k-blocks as libtorch's sgemm does; allow a few float roundings of the magnitude.
        var scale = expected.abs().max().item<float>() + 1f;
        var diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff <= 2e-6f * scale * 4, $"{what}: max diff {diff} (scale {scale})");
    }

    [Fact]
    public void Kernel_runs_on_this_machine()
    {
        // CI and development machines are x64 with AVX2; if this fails the kernel is silently skipped everywhere.
        Assert.True(Sgemm.IsSupported, "AVX2/FMA missing: the packed kernel cannot run here.");
    }

    [Fact]
    public void Matches_libtorch_linear_for_random_shapes()
    {
        // Rows around the 6-row tile and both sides of Sgemm.SequentialBelowRows, inputs around the 192 k-block,
        // outputs around the 16-wide panel.
        Gen.Select(Gen.Int[1, 120], Gen.Int[1, 420], Gen.Int[1, 70], Gen.Bool).Sample((m, k, n, withBias) =>
        {
            using var scope = NewDisposeScope();
            var w = randn(n, k) * 0.1f;
            var b = withBias ? randn(n) : null;
            var x = randn(m, k);
            var packed = PackedLinear.TryCreate(w, b)!;
            AssertClose(nn.functional.linear(x, w, b), packed.Forward(x), $"{m}×{k}×{n} bias={withBias}");
        }, iter: 60);
    }

    [Theory]
    [InlineData(16, 384, 1152)]
    [InlineData(97, 1536, 384)]
    [InlineData(768, 384, 1536)]
    public void Matches_libtorch_linear_on_the_model_shapes_in_three_dimensions(int m, int k, int n)
    {
        using var scope = NewDisposeScope();
        var w = randn(n, k) * 0.05f;
        var b = randn(n);
        var x = randn(2, m, k);
        AssertClose(nn.functional.linear(x, w, b), PackedLinear.TryCreate(w, b)!.Forward(x), $"2×{m}×{k}×{n}");
    }

    [Theory]
    [InlineData(7, 384, 1536)]
    [InlineData(40, 100, 50)]
    public void Fused_gelu_equals_linear_then_gelu(int m, int k, int n)
    {
        using var scope = NewDisposeScope();
        var w = randn(n, k) * 0.1f;
        var b = randn(n);
        var x = randn(m, k);
        AssertClose(nn.functional.linear(x, w, b).gelu(), PackedLinear.TryCreate(w, b)!.Forward(x, gelu: true), $"gelu {m}×{k}×{n}");
        var none = new KernelCache();
        PackedLinear.Enabled = false;
        try
        {
            AssertClose(nn.functional.linear(x, w, b).gelu(), PackedLinear.Linear(x, w, b, none, gelu: true), "gelu fallback");
        }
        finally
        {
            PackedLinear.Enabled = true;
        }
    }

    [Fact]
    public void Non_contiguous_input()
    {
        using var scope = NewDisposeScope();
        var w = randn(40, 30);
        var x = randn(30, 13).t(); // (13, 30), not contiguous
        Assert.False(x.is_contiguous());
        AssertClose(nn.functional.linear(x, w), PackedLinear.TryCreate(w, null)!.Forward(x), "transposed input");
    }

    [Theory]
    [InlineData(16, 384, 1536)]
    [InlineData(300, 1536, 384)]
    [InlineData(41, 200, 37)]
    public void Threads_change_nothing_bit_for_bit(int m, int k, int n)
    {
        var rnd = new Random(m * 31 + n);
        var w = Enumerable.Range(0, n * k).Select(_ => (float)(rnd.NextDouble() - 0.5)).ToArray();
        var b = Enumerable.Range(0, n).Select(_ => (float)rnd.NextDouble()).ToArray();
        var x = Enumerable.Range(0, m * k).Select(_ => (float)(rnd.NextDouble() * 2 - 1)).ToArray();
        LinearKernelAssert.ThreadsChangeNothing(PackedLinear.TryCreate(tensor(w).view(n, k), tensor(b))!, x, m);
    }

    [Fact]
    public void Linear_falls_back_to_libtorch_for_other_dtypes_and_autograd()
    {
        using var scope = NewDisposeScope();
        var w = randn(8, 12);
        var b = randn(8);
        var cache = new KernelCache();

        var x64 = randn(3, 12, dtype: ScalarType.Float64);
        var y64 = PackedLinear.Linear(x64, w.to(ScalarType.Float64), b.to(ScalarType.Float64), cache);
        Assert.Equal(ScalarType.Float64, y64.dtype);
        Assert.Null(cache.Float32);

        var xg = randn(3, 12).requires_grad_();
        var yg = PackedLinear.Linear(xg, w, b, cache);
        Assert.Null(cache.Float32);
        yg.sum().backward();
        AssertClose(ones(3, 8).matmul(w), xg.grad!, "gradient through the fallback");

        using (no_grad())
        {
            var x = randn(3, 12);
            var y = PackedLinear.Linear(x, w, b, cache);
            Assert.NotNull(cache.Float32);
            Assert.Null(cache.Int16);
            AssertClose(nn.functional.linear(x, w, b), y, "packed path");
        }
    }

    [Theory]
    [InlineData(1, false, false)]
    [InlineData(4096, false, false)]  // AVX2 only: the kernel at every size
    [InlineData(48, true, false)]     // AVX-512: the kernel for few rows (libtorch would repack the weight per call)…
    [InlineData(49, true, true)]      // …and MKL's twice-as-wide GEMM above that
    public void Libtorch_takes_the_many_row_products_only_on_AVX_512(long rows, bool avx512, bool libtorch) =>
        Assert.Equal(libtorch, PackedLinear.LibtorchIsFaster(rows, avx512));

    [Fact]
    public void Model_output_is_the_same_with_and_without_the_kernel() =>
        KernelSwitch.AssertSameOutput("all-MiniLM-L6-v2", on => PackedLinear.Enabled = on);
}

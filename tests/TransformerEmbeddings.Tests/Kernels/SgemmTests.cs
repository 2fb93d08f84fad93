using CsCheck;
using TorchSharp;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Kernels.Linear;
using TransformerEmbeddings.Runtime;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>
/// The fp32 GEMM driver and its micro-kernels against libtorch's linear, on every instruction set this machine runs
/// (the scalar kernel everywhere): shape edges, k-blocks, fused GELU, threads, and the same bits on every ISA.
/// </summary>
public sealed class SgemmTests
{
    public SgemmTests() => NativeRuntime.EnsureLoaded();

    private static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        // Same products summed in another order (k-blocks, FMA chains); allow a few float roundings of the magnitude.
        var scale = expected.abs().max().item<float>() + 1f;
        var diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff <= 1e-5f * scale, $"{what}: max diff {diff} (scale {scale})");
    }

    [Fact]
    public void This_machine_runs_a_vector_kernel()
    {
        // CI and development machines are x64 with AVX2; if this fails every model silently runs on libtorch.
        Assert.NotEqual(InstructionSet.None, KernelTable.Best);
        Assert.True(KernelTable.Runs(InstructionSet.Scalar));
    }

    [Theory]
    [MemberData(nameof(KernelTables.Runnable), MemberType = typeof(KernelTables))]
    public void Matches_libtorch_linear_for_random_shapes(string isaName)
    {
        var isa = KernelTables.Parse(isaName);
        var table = KernelTable.For(isa);
        // Rows around the tiles and both sides of the whole-K limit (48), inputs across two k-blocks (384), outputs
        // around the 8-, 16- and 48-wide panels.
        Gen.Select(Gen.Int[1, 120], Gen.Int[1, 900], Gen.Int[1, 130], Gen.Bool).Sample((m, k, n, withBias) =>
        {
            using var scope = NewDisposeScope();
            var w = randn(n, k) * 0.1f;
            var b = withBias ? randn(n) : null;
            var x = randn(m, k);
            AssertClose(nn.functional.linear(x, w, b), new Float32Linear(w, b, table).Forward(x), $"{isa} {m}×{k}×{n} bias={withBias}");
        }, iter: 40);
    }

    [Fact]
    public void Every_instruction_set_gives_the_same_bits()
    {
        // One fused multiply-add chain per output in k order, the same k-blocks, the same GELU: tile shapes differ, bits do not.
        Gen.Select(Gen.Int[1, 100], Gen.Int[1, 800], Gen.Int[1, 110], Gen.Bool, Gen.Int[0, 1000]).Sample((m, k, n, gelu, seed) =>
        {
            var rnd = new Random(seed);
            var w = KernelTables.Random(rnd, n * k, 0.1);
            var b = KernelTables.Random(rnd, n);
            var x = KernelTables.Random(rnd, m * k, 2);
            float[]? reference = null;
            foreach (var table in KernelTables.All())
            {
                var y = new float[m * n];
                Float32Linear.FromWeights(w, b, n, k, table).Forward(x, y, m, threads: 2, gelu: gelu);
                if (reference is null) reference = y;
                else Assert.Equal(reference, y);
            }
        }, iter: 30);
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
        AssertClose(nn.functional.linear(x, w, b), new Float32Linear(w, b, KernelTable.For(KernelTable.Best)).Forward(x), $"2×{m}×{k}×{n}");
    }

    [Theory]
    [InlineData(7, 384, 1536)]
    [InlineData(60, 100, 50)]
    public void Fused_gelu_equals_linear_then_gelu(int m, int k, int n)
    {
        using var scope = NewDisposeScope();
        var w = randn(n, k) * 0.1f;
        var b = randn(n);
        var x = randn(m, k);
        foreach (var table in KernelTables.All())
            AssertClose(nn.functional.linear(x, w, b).gelu(), new Float32Linear(w, b, table).Forward(x, gelu: true), $"{table.Isa} gelu {m}×{k}×{n}");
        AssertClose(nn.functional.linear(x, w, b).gelu(), new TorchLinear(w, b).Forward(x, gelu: true), "libtorch gelu");
    }

    [Fact]
    public void Non_contiguous_input()
    {
        using var scope = NewDisposeScope();
        var w = randn(40, 30);
        var x = randn(30, 13).t(); // (13, 30), not contiguous
        Assert.False(x.is_contiguous());
        AssertClose(nn.functional.linear(x, w), new Float32Linear(w, null, KernelTable.For(KernelTable.Best)).Forward(x), "transposed input");
    }

    [Fact]
    public void Refuses_what_it_cannot_compute()
    {
        using var scope = NewDisposeScope();
        var linear = new Float32Linear(randn(8, 12), null, KernelTable.For(InstructionSet.Scalar));
        Assert.Throws<ArgumentException>(() => linear.Forward(randn(3, 12, dtype: ScalarType.Float64)));
        Assert.Throws<ArgumentException>(() => linear.Forward(randn(3, 11)));
        Assert.Throws<ArgumentException>(() => new Float32Linear(randn(8), null, KernelTable.For(InstructionSet.Scalar)));
    }

    [Theory]
    [InlineData(16, 384, 1536)]
    [InlineData(300, 1536, 384)]
    [InlineData(41, 200, 37)]
    public void Threads_change_nothing_bit_for_bit(int m, int k, int n)
    {
        var rnd = new Random(m * 31 + n);
        var w = KernelTables.Random(rnd, n * k, 0.5);
        var b = KernelTables.Random(rnd, n);
        var x = KernelTables.Random(rnd, m * k);
        foreach (var table in KernelTables.All())
            LinearKernelAssert.ThreadsChangeNothing(Float32Linear.FromWeights(w, b, n, k, table), x, m);
    }
}

/// <summary>Activation panels: every micro-kernel height, vector and scalar paths, against the definition.</summary>
public sealed class ActivationPanelTests
{
    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    [InlineData(8)]
    [InlineData(12)]
    [InlineData(16)]
    [InlineData(32)]
    public unsafe void Pack_lays_rows_out_k_major_in_groups_of_MR_with_zero_rows_past_the_end(int mr)
    {
        Gen.Select(Gen.Int[1, 40], Gen.Int[0, 30], Gen.Int[1, 50]).Sample((rows, k0, kc) =>
        {
            int ldx = k0 + kc + 3;
            var x = KernelTables.Random(new Random(rows * 131 + kc), rows * ldx);
            var size = TransformerEmbeddings.Kernels.Gemm.ActivationPanels.Size(rows, kc, mr);
            var packed = new float[size];
            fixed (float* px = x)
            fixed (float* pp = packed)
                TransformerEmbeddings.Kernels.Gemm.ActivationPanels.Pack(px, ldx, rows, k0, kc, mr, pp);
            int tiles = (rows + mr - 1) / mr;
            for (int t = 0; t < tiles; t++)
                for (int k = 0; k < kc; k++)
                    for (int r = 0; r < mr; r++)
                    {
                        int row = t * mr + r;
                        float expected = row < rows ? x[row * ldx + k0 + k] : 0f;
                        Assert.Equal(expected, packed[(long)t * mr * kc + k * mr + r]);
                    }
        }, iter: 60);
    }
}

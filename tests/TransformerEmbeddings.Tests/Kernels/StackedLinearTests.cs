using TorchSharp;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Kernels.Linear;
using TransformerEmbeddings.Runtime;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>
/// Attention's query, key and value as one product over the three weights: the library's kernels pack it from the
/// parts (which stay as they are) and give the bits of a kernel over the stacked weight; under libtorch the parts become
/// views of one stacked tensor.
/// </summary>
public sealed class StackedLinearTests
{
    public StackedLinearTests() => NativeRuntime.EnsureLoaded();

    private static unsafe long Address(Tensor t) => (long)TensorMemory.Bytes(t);

    private static (Tensor[] W, Tensor[] B, Tensor X) Parts(int seed)
    {
        var g = new Generator((ulong)seed);
        var w = new[] { randn(24, 40, generator: g), randn(24, 40, generator: g), randn(16, 40, generator: g) };
        var b = new[] { randn(24, generator: g), randn(24, generator: g), randn(16, generator: g) };
        return (w, b, randn(5, 7, 40, generator: g));
    }

    [Theory]
    [MemberData(nameof(KernelTables.IntegerNames), MemberType = typeof(KernelTables))]
    public void The_stacked_kernel_gives_the_bits_of_one_over_the_stacked_weight(string tableName)
    {
        var table = KernelTables.IntegerTable(tableName);
        using var scope = NewDisposeScope();
        var (w, b, x) = Parts(7);
        var before = w.Select(Address).ToArray();
        using var stacked = cat(w, 0);
        using var stackedBias = cat(b, 0);
        foreach (var (parts, whole) in new (LinearKernel, LinearKernel)[]
                 {
                     (new Float32Linear(w, b, table), new Float32Linear(stacked, stackedBias, table)),
                     (new Int16Linear(w, b, table), new Int16Linear(stacked, stackedBias, table)),
                 })
        {
            var y = parts.Forward(x);
            Assert.Equal(new long[] { 5, 7, 64 }, y.shape);
            Assert.True(y.eq(whole.Forward(x)).all().item<bool>(), tableName);
        }
        Assert.Equal(before, w.Select(Address).ToArray()); // the parts were not touched
        Assert.Throws<ArgumentException>(() => new Float32Linear(w, b.Take(2).ToArray(), table));
        Assert.Throws<ArgumentException>(() => new Float32Linear([w[0], randn(8, 41)], [], table));
    }

    [Fact]
    public void Under_libtorch_the_parts_become_views_of_one_stacked_weight()
    {
        using var scope = NewDisposeScope();
        var (w, b, x) = Parts(8);
        var expected = nn.functional.linear(x, cat(w, 0), cat(b, 0));
        using var kernel = TorchLinear.Stacked(w, b);
        Assert.True(kernel.Forward(x).allclose(expected));
        for (int i = 1; i < w.Length; i++)
        {
            Assert.Equal(Address(w[i - 1]) + w[i - 1].NumberOfElements * sizeof(float), Address(w[i]));
            Assert.Equal(Address(b[i - 1]) + b[i - 1].NumberOfElements * sizeof(float), Address(b[i]));
        }
    }
}

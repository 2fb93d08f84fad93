using TorchSharp;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Runtime;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>
/// Kernel outputs over kept blocks: they behave as libtorch tensors, a block comes back only when the last view of its
/// storage is gone (on any thread), and the next output of that size reuses it instead of mapping new pages.
/// </summary>
public sealed unsafe class OutputPoolTests
{
    public OutputPoolTests() => NativeRuntime.EnsureLoaded();

    // 45 MB: a size no other test's outputs share (a block serves outputs down to half its size).
    private static readonly long[] Shape = [3, 3840, 1024];

    private static nint Address(Tensor t) => (nint)TensorMemory.Floats(t);

    [Fact]
    public void An_output_is_an_ordinary_tensor_over_a_kept_block()
    {
        using var scope = NewDisposeScope();
        var y = TensorMemory.Output(Shape);
        Assert.Equal(Shape, y.shape);
        Assert.Equal(ScalarType.Float32, y.dtype);
        Assert.True(y.is_contiguous());
        y.fill_(2f);
        y[1, 7, 5] = tensor(-3f);
        Assert.Equal(2.0 * y.NumberOfElements - 5, y.sum(ScalarType.Float64).item<double>());
        Assert.Equal(-3f, TensorMemory.Floats(y)[(1 * 3840 + 7) * 1024 + 5]);
    }

    [Fact]
    public void A_block_comes_back_only_after_its_last_view_and_is_used_again()
    {
        if (!OperatingSystem.IsLinux())
        {
            // Elsewhere outputs come from libtorch's allocator: nothing is lent.
            using (TensorMemory.Output(Shape)) Assert.Equal(0, OutputPool.LentCount);
            return;
        }
        var first = TensorMemory.Output(Shape);
        var block = Address(first);
        var view = first.narrow(1, 100, 10);
        first.Dispose();

        // The view still holds the storage: a new output of that size gets another block.
        var second = TensorMemory.Output(Shape);
        Assert.NotEqual(block, Address(second));
        var other = Address(second);
        second.Dispose();

        // The last view released on another thread gives the block back too.
        var releaser = new Thread(view.Dispose);
        releaser.Start();
        releaser.Join();
        var third = TensorMemory.Output(Shape);
        var fourth = TensorMemory.Output(Shape);
        Assert.Equal(new HashSet<nint> { block, other }, new HashSet<nint> { Address(third), Address(fourth) });
        third.Dispose();
        fourth.Dispose();
    }
}

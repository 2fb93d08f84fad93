using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Infrastructure;

/// <summary>Comparisons at real positions only: padding is not part of the contract.</summary>
public static class TensorAssert
{
    /// <summary>
    /// The largest |expected - actual| over positions where <paramref name="mask"/> is 1. <paramref name="tokenDims"/>
    /// names the (batch, sequence) dimensions of the tensors; batch is always dim 0.
    /// </summary>
    public static double MaxAbsDiff(Tensor expected, Tensor actual, Tensor? mask, int sequenceDim = 1)
    {
        using var scope = NewDisposeScope();
        Assert.Equal(expected.shape, actual.shape);
        var diff = (expected.to(ScalarType.Float64) - actual.to(ScalarType.Float64).cpu()).abs();
        if (mask is not null)
        {
            var m = mask.to(ScalarType.Float64).cpu();
            // Broadcast (B, S) over the tensor: B at dim 0, S at sequenceDim.
            var shape = Enumerable.Repeat(1L, (int)diff.dim()).ToArray();
            shape[0] = m.shape[0];
            shape[sequenceDim] = m.shape[1];
            diff = diff * m.view(shape);
        }
        return diff.max().item<double>();
    }

    /// <summary>The largest |expected - actual| over every value of a (B, D) batch of vectors.</summary>
    public static double MaxAbsDiff(Tensor expected, Embeddings actual)
    {
        using var t = actual.ToTensor();
        return MaxAbsDiff(expected, t, null);
    }

    public static void Close(Tensor expected, Embeddings actual, double tolerance, string what)
    {
        var d = MaxAbsDiff(expected, actual);
        Assert.True(d <= tolerance, $"{what}: max abs difference {d:E3} exceeds {tolerance:E1}");
    }

    public static void Close(Tensor expected, Tensor actual, Tensor? mask, double tolerance, string what, int sequenceDim = 1)
    {
        var d = MaxAbsDiff(expected, actual, mask, sequenceDim);
        Assert.True(d <= tolerance, $"{what}: max abs difference {d:E3} exceeds {tolerance:E1}");
    }

    public static void Equal(Tensor expected, Tensor actual, Tensor? mask, string what)
    {
        var d = MaxAbsDiff(expected, actual, mask);
        Assert.True(d == 0, $"{what}: differs (max abs {d})");
    }
}

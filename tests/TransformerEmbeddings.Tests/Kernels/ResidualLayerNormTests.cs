using TorchSharp;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Runtime;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>The fused residual add + LayerNorm against libtorch's <c>layer_norm(x + residual)</c>.</summary>
public sealed class ResidualLayerNormTests
{
    public ResidualLayerNormTests() => NativeRuntime.EnsureLoaded();

    public static TheoryData<string, int, int, int> Shapes()
    {
        var data = new TheoryData<string, int, int, int>();
        foreach (var isa in KernelTables.Runnable())
            foreach (var (b, s, h) in new[] { (1, 16, 384), (3, 23, 128), (32, 40, 384), (2, 7, 8), (2, 5, 12) })
                data.Add(isa, b, s, h);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Matches_libtorch(string isaName, int batch, int length, int hidden)
    {
        var isa = KernelTables.Parse(isaName);
        using var scope = NewDisposeScope();
        // An offset and a large channel, like BERT's residual stream: the two-pass variance must not lose them.
        var x = randn(batch, length, hidden) * 3 + 5;
        x[.., .., 0] = tensor(40f);
        var residual = randn(batch, length, hidden);
        var weight = randn(hidden);
        var bias = randn(hidden);
        var expected = nn.functional.layer_norm(x + residual, [hidden], weight, bias, 1e-12);
        Assert.True(ResidualLayerNorm.Accepts(x, residual, weight));
        var actual = ResidualLayerNorm.ApplyInPlace(x.clone(), residual, weight, bias, 1e-12, isa);
        // Two float sums of hundreds of values in another order: a few ulps of the largest output.
        var diff = (expected - actual).abs().max().item<float>();
        var scale = expected.abs().max().item<float>();
        Assert.True(diff < 2e-6f * scale, $"{isa} {batch}×{length}×{hidden}: max diff {diff} (largest {scale})");
    }

    [Fact]
    public void Declines_what_it_cannot_compute()
    {
        using var scope = NewDisposeScope();
        Assert.False(ResidualLayerNorm.Accepts(randn(12, 16).t(), randn(16, 12), ones(12)));   // not contiguous
        Assert.False(ResidualLayerNorm.Accepts(randn(2, 16, dtype: ScalarType.Float64), randn(2, 16, dtype: ScalarType.Float64), ones(16)));
        Assert.False(ResidualLayerNorm.Accepts(randn(2, 16), randn(2, 16), ones(15)));          // γ of another width
    }
}

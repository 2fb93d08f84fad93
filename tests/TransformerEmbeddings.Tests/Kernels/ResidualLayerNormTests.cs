using TorchSharp;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Runtime;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>The fused residual add + LayerNorm against libtorch's <c>layer_norm(x + residual)</c>.</summary>
public sealed class ResidualLayerNormTests
{
    public ResidualLayerNormTests() => NativeRuntime.EnsureLoaded();

    [Theory]
    [InlineData(1, 16, 384)]
    [InlineData(3, 23, 128)]
    [InlineData(32, 40, 384)]
    [InlineData(2, 7, 8)]
    public void Matches_libtorch(int batch, int length, int hidden)
    {
        using var scope = NewDisposeScope();
        // An offset and a large channel, like BERT's residual stream: the two-pass variance must not lose them.
        var x = randn(batch, length, hidden) * 3 + 5;
        x[.., .., 0] = tensor(40f);
        var residual = randn(batch, length, hidden);
        var weight = randn(hidden);
        var bias = randn(hidden);
        var expected = nn.functional.layer_norm(x + residual, [hidden], weight, bias, 1e-12);
        Assert.True(ResidualLayerNorm.Accepts(x, residual, weight));
        var actual = ResidualLayerNorm.ApplyInPlace(x.clone(), residual, weight, bias, 1e-12);
        var diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff < 1e-5f, $"{batch}×{length}×{hidden}: max diff {diff}");
    }

    [Fact]
    public void Declines_what_it_cannot_compute()
    {
        using var scope = NewDisposeScope();
        var w = ones(12);
        Assert.False(ResidualLayerNorm.Accepts(randn(2, 12), randn(2, 12), w));                 // H not a multiple of 8
        Assert.False(ResidualLayerNorm.Accepts(randn(12, 16).t(), randn(16, 12), ones(12)));   // not contiguous
        Assert.False(ResidualLayerNorm.Accepts(randn(2, 16, dtype: ScalarType.Float64), randn(2, 16, dtype: ScalarType.Float64), ones(16)));
    }

    [Fact]
    public void Model_output_is_the_same_with_and_without_the_kernel() =>
        KernelSwitch.AssertSameOutput("bert-tiny-uncased", on => ResidualLayerNorm.Enabled = on);
}

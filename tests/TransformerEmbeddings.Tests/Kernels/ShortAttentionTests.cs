using TorchSharp;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Runtime;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>The short-sequence attention kernel against HF's eager formula in libtorch, padding included.</summary>
public sealed class ShortAttentionTests
{
    public ShortAttentionTests() => NativeRuntime.EnsureLoaded();

    /// <summary>HF eager attention on a fused (B, S, 3H) projection, merged back to (B, S, H).</summary>
    private static Tensor Eager(Tensor projected, Tensor? mask, int heads, int headDim)
    {
        var (b, s) = (projected.shape[0], projected.shape[1]);
        var qkv = projected.view(b, s, 3, heads, headDim).permute(2, 0, 3, 1, 4);
        var scores = qkv[0].matmul(qkv[1].transpose(-1, -2)) / Math.Sqrt(headDim);
        if (mask is not null) scores = scores + mask;
        var context = scores.softmax(-1).matmul(qkv[2]);
        return context.transpose(1, 2).reshape(b, s, heads * headDim);
    }

    [Theory]
    [InlineData(1, 1, 12, 32)]
    [InlineData(1, 16, 12, 32)]
    [InlineData(3, 23, 12, 32)]
    [InlineData(2, 128, 4, 64)]
    [InlineData(5, 9, 2, 16)]
    [InlineData(4, 37, 3, 48)]
    public void Matches_eager_attention_with_padding(int batch, int length, int heads, int headDim)
    {
        using var scope = NewDisposeScope();
        var projected = randn(batch, length, 3 * heads * headDim) * 2;
        // Row r keeps its first length − r tokens (at least one): every padding pattern from none to almost all.
        var keep = zeros(batch, length);
        for (int r = 0; r < batch; r++) keep[r, ..(int)Math.Max(1, length - r * 3)] = tensor(1f);
        var mask = ((1 - keep) * float.MinValue).view(batch, 1, 1, length);
        foreach (var m in new[] { null, mask })
        {
            var expected = Eager(projected, m, heads, headDim);
            var actual = ShortAttention.Forward(projected, m, heads, headDim);
            Assert.Equal(expected.shape, actual.shape);
            var diff = (expected - actual).abs().max().item<float>();
            Assert.True(diff < 1e-5f, $"{batch}×{length}×{heads}×{headDim} mask={m is not null}: max diff {diff}");
        }
    }

    [Fact]
    public void Declines_what_it_cannot_compute()
    {
        using var scope = NewDisposeScope();
        Assert.True(ShortAttention.Accepts(randn(2, 16, 96), zeros(2, 1, 1, 16), 32));
        Assert.False(ShortAttention.Accepts(randn(2, ShortAttention.RoutedMaxLength + 1, 96), null, 32));
        Assert.False(ShortAttention.Accepts(randn(1, 8, 90), null, 30));
        Assert.Throws<ArgumentException>(() => ShortAttention.Forward(randn(1, 8, 24), null, 3, 8));
        Assert.False(ShortAttention.Accepts(randn(1, 8, 96, dtype: ScalarType.Float64), null, 32));
    }

    [Fact]
    public void Model_output_is_the_same_with_and_without_the_kernel() =>
        KernelSwitch.AssertSameOutput("all-MiniLM-L6-v2", on => ShortAttention.Enabled = on);
}

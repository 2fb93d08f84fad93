using System.Numerics;
using TransformerEmbeddings.Modeling;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Modeling;

/// <summary>MPNet's relative position buckets and the (heads, S, S) bias built from them.</summary>
public sealed class MPNetPositionBiasTests
{
    /// <summary>
    /// HF's bucket in exact arithmetic: distances below 8 are their own bucket; from 8 on, 8 + ⌊log(n/8) / log(16) · 8⌋
    /// = 8 + ⌊log2(n²)⌋ − 6, capped at 15; keys after the query use the upper 16 buckets.
    /// </summary>
    private static int Exact(int relative)
    {
        var n = Math.Abs(relative);
        var side = relative > 0 ? 16 : 0;
        return side + (n < 8 ? n : Math.Min(15, 2 + BitOperations.Log2((uint)(n * n))));
    }

    [Fact]
    public void Buckets_follow_HF_s_definition_at_every_distance()
    {
        for (var d = -4096; d <= 4096; d++)
            Assert.True(MPNetEncoder.RelativePositionBucket(d) == Exact(d), $"distance {d}: {MPNetEncoder.RelativePositionBucket(d)}, expected {Exact(d)}");
        // The boundaries where float32 rounding could flip a bucket: powers of two.
        Assert.Equal([10, 12, 14, 15], new[] { 16, 32, 64, 128 }.Select(n => MPNetEncoder.RelativePositionBucket(-n)));
        Assert.Equal([9, 11, 13, 15], new[] { 15, 31, 63, 127 }.Select(n => MPNetEncoder.RelativePositionBucket(-n)));
    }

    [Fact]
    public void The_bias_is_the_table_row_of_each_pair_s_bucket_per_head()
    {
        var m = FamilyFixtures.Model("mpnet-tiny");
        var encoder = ((MPNetModel)m.Module).Encoder;
        using var scope = NewDisposeScope();
        const int s = 150;
        var bias = encoder.PositionBias(s);                                       // (heads, S, S)
        Assert.Equal(new long[] { m.Config.NumAttentionHeads, s, s }, bias.shape);
        var table = encoder.named_parameters().Single(p => p.name == "relative_attention_bias.weight").parameter;
        foreach (var (i, j) in new[] { (0, 0), (0, 1), (1, 0), (5, 140), (140, 5), (75, 75), (149, 0) })
            for (var h = 0; h < m.Config.NumAttentionHeads; h++)
                Assert.Equal(table[MPNetEncoder.RelativePositionBucket(j - i), h].item<float>(), bias[h, i, j].item<float>());
    }
}

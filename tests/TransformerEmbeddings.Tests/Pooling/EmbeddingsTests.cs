using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Pooling;

public sealed class EmbeddingsTests
{
    [Fact]
    public void Matryoshka_truncation_keeps_the_first_dimensions_and_renormalises_when_asked()
    {
        var m = ModelCache.Get("all-MiniLM-L6-v2");
        using var inputs = GoldenTokens.IdInputs(m, ModelCache.Golden("all-MiniLM-L6-v2"), "");
        using var output = m.Encode(inputs);
        var full = output.Tokens().Mean().Normalize();
        var cut = full.Truncate(64);
        var renormalized = full.Truncate(64, renormalize: true);
        Assert.Equal(64, cut.Dimension);
        for (var i = 0; i < full.Count; i++)
        {
            Assert.Equal(full.Row(i)[..64].ToArray(), cut.RowArray(i));
            Assert.Equal(1.0, Norm(renormalized.Row(i)), 5);
            Assert.Equal(1.0, Norm(full.Row(i)), 5);
            var scale = Norm(cut.Row(i));
            PoolingGoldenTests.AssertClose(renormalized.Row(i), cut.RowArray(i).Select(v => (float)(v / scale)).ToArray(), 1e-6, "renormalised");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => full.Truncate(385));
        Assert.Throws<ArgumentOutOfRangeException>(() => full.Truncate(0));
    }

    [Fact]
    public void Arrays_rows_and_tensors_agree_and_concat_follows_the_given_order()
    {
        var m = ModelCache.Get("bert-tiny-uncased");
        using var inputs = GoldenTokens.IdInputs(m, ModelCache.Golden("bert-tiny-uncased"), "pairs.");
        using var output = m.Encode(inputs);
        var tokens = output.Tokens();
        var cls = tokens.Cls();
        var mean = tokens.Mean();
        var both = tokens.Pool(new PoolingStrategy(TokenPooling.Cls, TokenPooling.Mean));
        var parsed = tokens.Pool(PoolingStrategy.Parse("cls+mean"));
        var joined = Embeddings.Concat(cls, mean);
        Assert.Equal(both.ToArray(), joined.ToArray());
        Assert.Equal(both.ToArray(), parsed.ToArray());
        var arrays = both.ToArray();
        using var t = both.ToTensor();
        Assert.Equal([both.Count, both.Dimension], t.shape.Select(x => (int)x).ToArray());
        for (var i = 0; i < both.Count; i++)
        {
            Assert.Equal(arrays[i], both.Row(i).ToArray());
            Assert.Equal(arrays[i], t[i].data<float>().ToArray());
        }
        t.add_(1);   // a copy: writing to it leaves the embeddings alone
        Assert.Equal(arrays[0], both.RowArray(0));
    }

    [Fact]
    public void Pooling_strategies_parse_from_sentence_transformers_names()
    {
        Assert.Equal([TokenPooling.Cls], PoolingStrategy.Parse("cls").Modes);
        Assert.Equal([TokenPooling.MeanSqrtLength], PoolingStrategy.Parse("mean_sqrt_len_tokens").Modes);
        Assert.Equal([TokenPooling.WeightedMean, TokenPooling.LastToken], PoolingStrategy.Parse("weightedmean+lasttoken").Modes);
        Assert.Equal([TokenPooling.Cls, TokenPooling.Mean], PoolingStrategy.Parse(" CLS + mean ").Modes);
        Assert.Equal(PoolingStrategy.Parse("max+mean"), PoolingStrategy.Parse(PoolingStrategy.Parse("max+mean").ToString()));
        Assert.Equal("cls+mean", PoolingStrategy.Parse("cls+mean").ToString());
        var e = Assert.Throws<ArgumentException>(() => PoolingStrategy.Parse("average"));
        Assert.Contains("average", e.Message);
        Assert.Contains("mean_sqrt_len_tokens", e.Message);
        Assert.Throws<ArgumentException>(() => PoolingStrategy.Parse("mean+mean"));
        Assert.False(PoolingStrategy.TryParse("", out _));
    }

    private static double Norm(ReadOnlySpan<float> v)
    {
        double s = 0;
        foreach (var x in v) s += (double)x * x;
        return Math.Sqrt(s);
    }
}

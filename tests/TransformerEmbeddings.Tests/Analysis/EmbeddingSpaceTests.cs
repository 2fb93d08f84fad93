using TransformerEmbeddings.Analysis;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Analysis;

/// <summary>Diagnostics of the input-embedding matrix: nearest tokens, norms, isotropy, decoder tying.</summary>
public sealed class EmbeddingSpaceTests(ITestOutputHelper log)
{
    [Fact]
    public void Nearest_tokens_agree_with_a_brute_force_search_over_the_whole_matrix()
    {
        var model = ModelCache.Get("all-MiniLM-L6-v2");
        var nearest = EmbeddingSpace.Nearest(model, "king", k: 5);
        log.WriteLine("king: " + string.Join(", ", nearest.Tokens.Select(t => $"{t.Token} {t.Distance:F3}")));
        Assert.Equal(5, nearest.Tokens.Count);
        Assert.DoesNotContain(nearest.Tokens, t => t.Token == "king");
        Assert.Equal(0, nearest.SelfRank);

        using var scope = NewDisposeScope();
        var e = model.Weights.WordEmbeddings.to(ScalarType.Float64);
        var row = e[model.Tokenizer.TokenToId("king")!.Value];
        var cos = 1 - (e.matmul(row) / (e.norm(1) * row.norm()));
        var (values, ids) = cos.topk(6, largest: false);
        Assert.Equal(ids.data<long>().Skip(1).Select(i => (int)i), nearest.Tokens.Select(t => t.Id));
        Assert.Equal(values.data<double>().Skip(1).ToArray(), nearest.Tokens.Select(t => t.Distance).ToArray(), new Tolerance(1e-9));

        // Any vector: the row itself finds the token first, at distance 0, under both metrics.
        var vector = model.Weights.WordEmbeddings[model.Tokenizer.TokenToId("queen")!.Value].data<float>().ToArray();
        Assert.Equal("queen", EmbeddingSpace.Nearest(model, vector, 3, DistanceMetric.Euclidean).Tokens[0].Token);
        Assert.Equal(0, EmbeddingSpace.Nearest(model, vector, 3).Tokens[0].Distance, 6);
        Assert.Throws<ArgumentException>(() => EmbeddingSpace.Nearest(model, "notatoken-xyz"));
        Assert.Throws<ArgumentException>(() => EmbeddingSpace.Nearest(model, new float[3]));
    }

    [Fact]
    public void Norms_are_the_row_norms_and_isotropy_tells_a_cone_from_a_spread()
    {
        var model = ModelCache.Get("bert-tiny-uncased");
        var norms = EmbeddingSpace.Norms(model);
        Assert.Equal(model.Config.VocabSize, norms.Length);
        using (var scope = NewDisposeScope())
            Assert.Equal(model.Weights.WordEmbeddings[2000].norm().item<float>(), norms[2000], 5);

        var report = EmbeddingSpace.Isotropy(model, sample: 2000);
        log.WriteLine($"bert-tiny-uncased E: {report}");
        Assert.Equal(2000, report.Count);
        Assert.Equal(64, report.Dimension);
        Assert.InRange(report.EffectiveRank, 1, 64);

        // Known cases: orthonormal rows are perfectly isotropic; rows along one direction are collapsed.
        using var identity = eye(8, dtype: ScalarType.Float32);
        var spread = EmbeddingSpace.Isotropy(identity);
        Assert.Equal(0, spread.MeanPairwiseCosine, 12);
        Assert.Equal(8, spread.EffectiveRank, 9);
        using var line = ones(10, 8) * arange(1, 11, dtype: ScalarType.Float32).unsqueeze(1);
        var collapsed = EmbeddingSpace.Isotropy(line);
        Assert.Equal(1, collapsed.MeanPairwiseCosine, 9);
        Assert.Equal(1, collapsed.EffectiveRank, 6);
    }

    [Fact]
    public void The_decoder_tie_is_read_from_the_checkpoint()
    {
        var tied = EmbeddingSpace.DecoderTie(ModelCache.Get("roberta-tiny"));
        Assert.True(tied.HasHead);
        Assert.True(tied.Tied);
        Assert.Null(tied.DecoderKey);
        Assert.False(EmbeddingSpace.DecoderTie(ModelCache.Get("bert-tiny-uncased")).HasHead);
        Assert.True(EmbeddingSpace.DecoderTie(ModelCache.Get("bert-tiny-cased-sharded")).Tied);
    }

    private sealed class Tolerance(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(double obj) => 0;
    }
}

using TransformerEmbeddings.SentenceTransformers;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace TransformerEmbeddings.Tests.Quality;

/// <summary>
/// The embedding pipeline on real text: Spearman correlation (x100) between all-MiniLM-L6-v2 cosine similarities
/// and the gold scores of the STS-benchmark dev split. The figure is printed (and recorded in docs/pooling.md) to be
/// checked against sentence-transformers' own; the assertion guards against a broken pipeline.
/// </summary>
public sealed class StsBenchmarkTests(ITestOutputHelper log)
{
    [Fact]
    public void All_MiniLM_L6_v2_correlates_with_human_judgements_on_STS_dev()
    {
        var pairs = StsBenchmark.Dev();
        Assert.Equal(1500, pairs.Count);
        using var embedder = SentenceEmbedder.Create(ModelCache.Get("all-MiniLM-L6-v2"));
        var a = embedder.Embed(pairs.Select(p => p.A).ToList()).ToArray();
        var b = embedder.Embed(pairs.Select(p => p.B).ToList()).ToArray();
        var cosines = a.Zip(b).Select(p => Cosine(p.First, p.Second)).ToList();
        var spearman = 100 * StsBenchmark.Spearman(cosines, pairs.Select(p => p.Score).ToList());
        log.WriteLine($"STS-benchmark dev Spearman x100: {spearman:F2}");
        Console.WriteLine($"STS-benchmark dev Spearman x100 (all-MiniLM-L6-v2): {spearman:F2}");
        Assert.InRange(spearman, 80, 100);
    }

    [Fact]
    public void Fast_mode_integer_kernel_stays_within_cosine_0_999_of_exact_on_every_STS_dev_sentence()
    {
        var pairs = StsBenchmark.Dev();
        var sentences = pairs.SelectMany(p => new[] { p.A, p.B }).ToList();
        using var exact = SentenceEmbedder.Create(ModelCache.Get("all-MiniLM-L6-v2"));
        using var fast = SentenceEmbedder.Load(SharedData.Model("all-MiniLM-L6-v2"), Modeling.PrecisionTests.IntegerFastMode);
        var e = exact.Embed(sentences).ToArray();
        var f = fast.Embed(sentences).ToArray();
        var agreement = e.Zip(f).Select(p => Cosine(p.First, p.Second)).ToList();
        double Spearman(float[][] v) =>
            100 * StsBenchmark.Spearman(pairs.Select((_, i) => Cosine(v[2 * i], v[2 * i + 1])).ToList(), pairs.Select(p => p.Score).ToList());
        var (se, sf) = (Spearman(e), Spearman(f));
        log.WriteLine($"fast vs exact over {sentences.Count} sentences: minimum cosine {agreement.Min():F6}, mean {agreement.Average():F7}; Spearman x100 exact {se:F2}, fast {sf:F2}");
        Assert.True(agreement.Min() >= 0.999, $"minimum cosine {agreement.Min():F6}");
        Assert.InRange(sf, se - 0.2, se + 0.2);
    }

    private static double Cosine(float[] x, float[] y)
    {
        double dot = 0, xx = 0, yy = 0;
        for (var i = 0; i < x.Length; i++)
        {
            dot += (double)x[i] * y[i];
            xx += (double)x[i] * x[i];
            yy += (double)y[i] * y[i];
        }
        return dot / Math.Sqrt(xx * yy);
    }
}

using TransformerEmbeddings.Pipelines;
using TransformerEmbeddings.SentenceTransformers;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Modeling;

public sealed class ConcurrencyTests
{
    [Fact]
    public void Threads_sharing_one_model_get_the_same_vectors_as_a_sequential_run()
    {
        var model = ModelCache.Get("bert-tiny-uncased");
        using var embedder = SentenceEmbedder.Create(model);
        var texts = StsBenchmark.Dev().Take(64).SelectMany(p => new[] { p.A, p.B }).ToList();
        var sequential = embedder.Embed(texts, Batches(8)).ToArray();

        var parallel = new float[4][][];
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, t =>
        {
            // Each thread embeds the texts in its own order and batch size.
            var order = Enumerable.Range(0, texts.Count).Select(i => (i * (t + 3)) % texts.Count).Distinct().ToList();
            var vectors = embedder.Embed(order.Select(i => texts[i]).ToList(), Batches(5 + t)).ToArray();
            var back = new float[texts.Count][];
            for (var j = 0; j < order.Count; j++) back[order[j]] = vectors[j];
            parallel[t] = back;
        });

        foreach (var run in parallel)
            for (var i = 0; i < texts.Count; i++)
                if (run[i] is { } v)
                    Assert.True(v.Zip(sequential[i]).All(p => Math.Abs(p.First - p.Second) < 1e-5), $"text {i} differs");
    }

    private static EmbeddingOptions Batches(int texts) => new() { Batching = new BatchOptions { MaxTextsPerBatch = texts } };
}

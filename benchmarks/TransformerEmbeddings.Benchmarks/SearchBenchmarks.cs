using BenchmarkDotNet.Attributes;
using TransformerEmbeddings.Pooling;

namespace TransformerEmbeddings.Benchmarks;

/// <summary>Exact top-10 cosine search of a 100,000 × 384 corpus (random unit vectors): <c>bdn --filter '*Search*'</c>.</summary>
[MemoryDiagnoser]
[WarmupCount(2)]
[IterationCount(10)]
public class SearchBenchmarks
{
    private Embeddings corpus = null!;
    private Embeddings queries = null!;

    /// <summary>Queries per call.</summary>
    [Params(1, 100)]
    public int Queries { get; set; }

    /// <summary>Makes the corpus and the queries (and the corpus row norms, once).</summary>
    [GlobalSetup]
    public void Setup()
    {
        corpus = Unit(100_000, 1);
        queries = Unit(Queries, 2);
        _ = corpus.Norms;
    }

    /// <summary>Top 10 per query.</summary>
    [Benchmark]
    public int SemanticSearch() => queries.SemanticSearch(corpus, topK: 10).Length;

    private static Embeddings Unit(int n, int seed)
    {
        var random = new Random(seed);
        var data = new float[n * 384];
        for (var i = 0; i < data.Length; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
        return new Embeddings(data, n, 384).Normalize();
    }
}

using CsCheck;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Pipelines;
using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.Search;
using TransformerEmbeddings.SentenceTransformers;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Pipelines;

/// <summary>Similarity matrices, exact top-k search and the batch planner, against brute force.</summary>
public sealed class SearchTests
{
    private static Embeddings Random(int count, int dimension, int seed)
    {
        var random = new Random(seed);
        var data = new float[count * dimension];
        for (var i = 0; i < data.Length; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
        return new Embeddings(data, count, dimension);
    }

    private static double Score(ReadOnlySpan<float> a, ReadOnlySpan<float> b, SimilarityFunction f)
    {
        double dot = 0, na = 0, nb = 0, l2 = 0, l1 = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
            l2 += (double)(a[i] - b[i]) * (a[i] - b[i]);
            l1 += Math.Abs((double)a[i] - b[i]);
        }
        return f switch
        {
            SimilarityFunction.Cosine => dot / Math.Sqrt(na * nb),
            SimilarityFunction.Dot => dot,
            SimilarityFunction.Euclidean => -Math.Sqrt(l2),
            _ => -l1,
        };
    }

    [Theory]
    [InlineData(SimilarityFunction.Cosine)]
    [InlineData(SimilarityFunction.Dot)]
    [InlineData(SimilarityFunction.Euclidean)]
    [InlineData(SimilarityFunction.Manhattan)]
    public void Similarity_matrices_match_the_definitions(SimilarityFunction function)
    {
        var a = Random(7, 24, 1);
        var b = Random(11, 24, 2);
        var m = a.Similarity(b, function);
        Assert.Equal(7, m.GetLength(0));
        Assert.Equal(11, m.GetLength(1));
        for (var i = 0; i < 7; i++)
            for (var j = 0; j < 11; j++)
            {
                var expected = Score(a.Row(i), b.Row(j), function);
                Assert.True(Math.Abs(expected - m[i, j]) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"[{i}, {j}]: {m[i, j]} vs {expected}");
            }
        var c = Random(3, 5, 3);
        Assert.Throws<ArgumentException>(() => a.Similarity(c));
    }

    [Theory]
    [InlineData(SimilarityFunction.Cosine)]
    [InlineData(SimilarityFunction.Dot)]
    [InlineData(SimilarityFunction.Manhattan)]
    public void Semantic_search_is_exact_top_k_across_corpus_chunks(SimilarityFunction function)
    {
        // 40,000 rows: more than two corpus chunks, so the running top k is merged across chunks.
        var corpus = Random(40_000, 16, 4);
        var queries = Random(300, 16, 5);
        var hits = queries.SemanticSearch(corpus, topK: 7, function);
        Assert.Equal(300, hits.Length);
        foreach (var q in new[] { 0, 1, 150, 299 })
        {
            var brute = Enumerable.Range(0, corpus.Count)
                .Select(c => (Id: c, Score: Score(queries.Row(q), corpus.Row(c), function)))
                .OrderByDescending(x => x.Score).ThenBy(x => x.Id).Take(7).ToArray();
            Assert.Equal(7, hits[q].Length);
            for (var i = 0; i < 7; i++)
            {
                Assert.True(Math.Abs(brute[i].Score - hits[q][i].Score) <= 1e-5 * Math.Max(1, Math.Abs(brute[i].Score)), $"query {q} hit {i}");
                if (i == 0 || Math.Abs(brute[i].Score - brute[i - 1].Score) > 1e-4) Assert.Equal(brute[i].Id, hits[q][i].CorpusId);
            }
        }
        var few = Random(3, 16, 6);
        Assert.Equal(3, queries.SemanticSearch(few, topK: 10)[0].Length);
    }

    [Fact]
    public void The_folder_similarity_function_is_read_and_used()
    {
        var folder = Directory.CreateTempSubdirectory("te-sim-").FullName;
        try
        {
            foreach (var file in Directory.GetFiles(SharedData.Model("all-MiniLM-L6-v2"), "*", SearchOption.AllDirectories))
            {
                var relative = Path.GetRelativePath(SharedData.Model("all-MiniLM-L6-v2"), file);
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(folder, relative))!);
                if (Path.GetFileName(file) != "config_sentence_transformers.json") File.CreateSymbolicLink(Path.Combine(folder, relative), file);
            }
            var config = Path.Combine(folder, "config_sentence_transformers.json");
            File.WriteAllText(config, """{"similarity_fn_name": "dot"}""");
            using (var embedder = SentenceEmbedder.Load(folder))
            {
                Assert.Equal(SimilarityFunction.Dot, embedder.SimilarityFunction);
                var v = embedder.Embed(["The quick brown fox.", "A fast auburn fox.", "Stock markets fell."]);
                var s = embedder.Similarity(v, v);
                Assert.Equal(Score(v.Row(0), v.Row(1), SimilarityFunction.Dot), s[0, 1], 5);
                var top = embedder.SemanticSearch(v, v, topK: 2);
                Assert.Equal(0, top[0][0].CorpusId);
                Assert.Equal(1, top[0][1].CorpusId);
            }
            File.WriteAllText(config, """{"similarity_fn_name": "hamming"}""");
            var e = Assert.Throws<ModelConfigurationException>(() => SentenceEmbedder.Load(folder));
            Assert.Contains("hamming", e.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Planned_batches_cover_every_sequence_once_longest_first_within_the_budget()
    {
        Gen.Int[0, 600].Array[0, 300].Select(Gen.Int[1, 40], Gen.Int[1, 5000]).Sample((lengths, maxTexts, maxTokens) =>
        {
            var options = new BatchOptions { MaxTextsPerBatch = maxTexts, MaxTokensPerBatch = maxTokens };
            var batches = BatchPlanner.Plan(lengths, options);
            var seen = new bool[lengths.Length];
            var previous = int.MaxValue;
            foreach (var batch in batches)
            {
                Assert.InRange(batch.Length, 1, maxTexts);
                var longest = Math.Max(1, lengths[batch[0]]);
                Assert.True(batch.Length == 1 || batch.Length * longest <= maxTokens, "over the token budget");
                foreach (var i in batch)
                {
                    Assert.False(seen[i]);
                    seen[i] = true;
                    Assert.True(lengths[i] <= previous, "not longest first");
                    previous = lengths[i];
                }
            }
            Assert.All(seen, Assert.True);
        });
    }
}

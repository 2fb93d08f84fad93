using TransformerEmbeddings.Runtime;
using TransformerEmbeddings.Pooling;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Search;

/// <summary>
/// Similarity matrices and exact top-k search as sentence-transformers' <c>util</c> computes them (<c>cos_sim</c>,
/// <c>dot_score</c>, <c>-cdist</c>), on libtorch's fp32 GEMM, over the corpus in chunks so that memory stays bounded:
/// one (queries × chunk) score block at a time, its top k merged into each query's running top k.
/// </summary>
internal static class VectorSimilarity
{
    /// <summary>Query rows scored per block (sentence-transformers' <c>query_chunk_size</c> is 100).</summary>
    private const int QueryChunk = 256;

    /// <summary>Corpus rows per block: a 256 × 16384 fp32 block is 16 MiB.</summary>
    private const int CorpusChunk = 16384;

    public static float[,] Matrix(Embeddings a, Embeddings b, SimilarityFunction function)
    {
        CheckDimensions(a, b);
        var result = new float[a.Count, b.Count];
        if (a.Count == 0 || b.Count == 0) return result;
        NativeRuntime.EnsureLoaded(); // vectors need no model: this may be the process's first libtorch call
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var scores = Scores(Prepare(a.View(), function), Prepare(b.View(), function), function).contiguous();
        scores.bytes.CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref result[0, 0], result.Length)));
        return result;
    }

    public static SearchHit[][] TopK(Embeddings queries, Embeddings corpus, int topK, SimilarityFunction function)
    {
        CheckDimensions(queries, corpus);
        ArgumentOutOfRangeException.ThrowIfLessThan(topK, 1);
        var k = Math.Min(topK, corpus.Count);
        var best = new TopList[queries.Count];
        for (var q = 0; q < best.Length; q++) best[q] = new TopList(k);
        if (k > 0 && queries.Count > 0)
        {
            NativeRuntime.EnsureLoaded(); // vectors need no model: this may be the process's first libtorch call
            using var outer = NewDisposeScope();
            using var _ = no_grad();
            var allQueries = Prepare(queries.View(), function);
            var corpusRows = corpus.View();
            // Cosine divides each block by the corpus rows' norms (kept by the corpus), instead of normalising it per call.
            var norms = function == SimilarityFunction.Cosine ? frombuffer(corpus.Norms, ScalarType.Float32) : null;
            for (var c0 = 0; c0 < corpus.Count; c0 += CorpusChunk)
            {
                using var chunkScope = NewDisposeScope();
                var cn = Math.Min(CorpusChunk, corpus.Count - c0);
                var block = corpusRows.narrow(0, c0, cn);
                var scale = norms?.narrow(0, c0, cn).unsqueeze(0);
                for (var q0 = 0; q0 < queries.Count; q0 += QueryChunk)
                {
                    using var inner = NewDisposeScope();
                    var qn = Math.Min(QueryChunk, queries.Count - q0);
                    var scores = Scores(allQueries.narrow(0, q0, qn), block, function);
                    if (scale is not null) scores.div_(scale);
                    var (values, indices) = scores.topk(Math.Min(k, cn), dim: 1);
                    var v = values.contiguous().data<float>().ToArray();
                    var ix = indices.contiguous().data<long>().ToArray();
                    var kk = (int)values.shape[1];
                    for (var i = 0; i < qn; i++)
                        for (var j = 0; j < kk; j++) best[q0 + i].Offer(c0 + (int)ix[i * kk + j], v[i * kk + j]);
                }
            }
        }
        var hits = new SearchHit[queries.Count][];
        for (var q = 0; q < hits.Length; q++) hits[q] = best[q].ToHits();
        return hits;
    }

    private static Tensor Prepare(Tensor x, SimilarityFunction function) =>
        function == SimilarityFunction.Cosine ? L2Normalization.Rows(x) : x;

    private static Tensor Scores(Tensor q, Tensor c, SimilarityFunction function) => function switch
    {
        SimilarityFunction.Cosine or SimilarityFunction.Dot => q.mm(c.t()),
        SimilarityFunction.Euclidean => cdist(q, c, 2).neg(),
        SimilarityFunction.Manhattan => cdist(q, c, 1).neg(),
        _ => throw new ArgumentOutOfRangeException(nameof(function), function, "Unknown similarity function."),
    };

    private static void CheckDimensions(Embeddings a, Embeddings b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Dimension != b.Dimension)
            throw new ArgumentException($"Vectors of {a.Dimension} and {b.Dimension} dimensions cannot be compared; embed both with the same model and truncation.", nameof(b));
    }

    /// <summary>The k best (score descending, then id ascending, so ties are ordered the same on every run).</summary>
    private sealed class TopList(int k)
    {
        private readonly int[] ids = new int[k];
        private readonly float[] scores = new float[k];
        private int count;

        public void Offer(int id, float score)
        {
            if (count == k && !Better(score, id, scores[k - 1], ids[k - 1])) return;
            var at = count < k ? count++ : k - 1;
            while (at > 0 && Better(score, id, scores[at - 1], ids[at - 1]))
            {
                scores[at] = scores[at - 1];
                ids[at] = ids[at - 1];
                at--;
            }
            scores[at] = score;
            ids[at] = id;
        }

        private static bool Better(float s, int id, float s2, int id2) => s > s2 || (s == s2 && id < id2);

        public SearchHit[] ToHits()
        {
            var hits = new SearchHit[count];
            for (var i = 0; i < count; i++) hits[i] = new SearchHit(ids[i], scores[i]);
            return hits;
        }
    }
}

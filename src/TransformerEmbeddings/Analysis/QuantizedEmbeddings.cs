using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.Search;

namespace TransformerEmbeddings.Analysis;

/// <summary>
/// A batch of quantized embeddings (managed bytes, one row per vector) and exact search over them: candidates by the
/// quantized comparison (integer dot product of the levels, or Hamming distance of the bits), then, as
/// sentence-transformers' <c>semantic_search_faiss</c>/<c>usearch</c> rescore, the best <c>topK × rescoreMultiplier</c>
/// re-scored against the float query (dot product with the dequantized vector, or with ±1 per bit).
/// </summary>
public sealed class QuantizedEmbeddings
{
    private readonly byte[] data;

    internal QuantizedEmbeddings(EmbeddingQuantizer quantizer, byte[] data, int count, int dimension)
    {
        Quantizer = quantizer;
        this.data = data;
        Count = count;
        Dimension = dimension;
        BytesPerVector = quantizer.BytesPerVector(dimension);
    }

    /// <summary>The quantizer (precision and ranges) that made these.</summary>
    public EmbeddingQuantizer Quantizer { get; }

    /// <summary>The number of vectors.</summary>
    public int Count { get; }

    /// <summary>D, the float dimension.</summary>
    public int Dimension { get; }

    /// <summary>Bytes per vector.</summary>
    public int BytesPerVector { get; }

    /// <summary>All bytes, row-major (signed precisions as two's complement).</summary>
    public ReadOnlySpan<byte> Bytes => data;

    /// <summary>Vector <paramref name="index"/>'s bytes.</summary>
    /// <param name="index">0..Count-1.</param>
    /// <returns>The bytes, without copying.</returns>
    public ReadOnlySpan<byte> Row(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return data.AsSpan(index * BytesPerVector, BytesPerVector);
    }

    /// <summary>The quantized score of two rows: dot product of the centred levels, or D − 2·Hamming distance for bits.</summary>
    /// <param name="a">A row of this batch.</param>
    /// <param name="other">A batch quantized the same way.</param>
    /// <param name="b">A row of <paramref name="other"/>.</param>
    /// <returns>The score; higher is more similar.</returns>
    public int Score(int a, QuantizedEmbeddings other, int b)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Quantizer.Precision != Quantizer.Precision || other.Dimension != Dimension)
            throw new ArgumentException("The other batch is quantized differently.", nameof(other));
        return EmbeddingQuantizer.Score(Row(a), other.Row(b), Quantizer.Precision, Dimension);
    }

    /// <summary>The top k rows for each float query.</summary>
    /// <param name="queries">Float queries (quantized here with the same quantizer for the first pass).</param>
    /// <param name="topK">Hits per query.</param>
    /// <param name="rescoreMultiplier">Candidates rescored per hit with the float query; 0 keeps the quantized scores.</param>
    /// <returns>Per query, rows and scores, best first.</returns>
    public SearchHit[][] Search(Embeddings queries, int topK = 10, int rescoreMultiplier = 4)
    {
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentOutOfRangeException.ThrowIfLessThan(topK, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(rescoreMultiplier);
        if (queries.Dimension != Dimension) throw new ArgumentException($"Queries have {queries.Dimension} dimensions; the corpus {Dimension}.", nameof(queries));
        var quantizedQueries = Quantizer.Quantize(queries);
        var results = new SearchHit[queries.Count][];
        Parallel.For(0, queries.Count, q =>
        {
            var candidates = Math.Min(Count, rescoreMultiplier == 0 ? topK : topK * rescoreMultiplier);
            var scores = new int[Count];
            var query = quantizedQueries.Row(q);
            for (var i = 0; i < Count; i++) scores[i] = EmbeddingQuantizer.Score(query, Row(i), Quantizer.Precision, Dimension);
            var best = Enumerable.Range(0, Count).OrderByDescending(i => scores[i]).ThenBy(i => i).Take(candidates).ToArray();
            if (rescoreMultiplier == 0)
            {
                results[q] = best.Select(i => new SearchHit(i, scores[i])).ToArray();
                return;
            }
            var floatQuery = queries.Row(q);
            var vector = new float[Dimension];
            var rescored = new SearchHit[best.Length];
            for (var n = 0; n < best.Length; n++)
            {
                Quantizer.Dequantize(Row(best[n]), vector);
                double dot = 0;
                for (var j = 0; j < Dimension; j++) dot += floatQuery[j] * vector[j];
                rescored[n] = new SearchHit(best[n], (float)dot);
            }
            results[q] = rescored.OrderByDescending(h => h.Score).ThenBy(h => h.CorpusId).Take(topK).ToArray();
        });
        return results;
    }
}

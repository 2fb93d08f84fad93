using System.Runtime.InteropServices;
using TorchSharp;
using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.Runtime;
using TransformerEmbeddings.Search;
using static TorchSharp.torch;

namespace TransformerEmbeddings;

/// <summary>
/// A batch of vectors, (B, D) float32, one per input row, in managed memory: the one type for vectors in this library
/// (pooling results, <c>SentenceEmbedder.Embed</c>, search corpora). Nothing to dispose; every operation returns a new
/// object; <see cref="ToTensor"/> gives a tensor copy the caller owns.
/// <code>
/// var corpus = embedder.Embed(documents);
/// var queries = embedder.Embed(["Where is the fox?"]);
/// float[,] scores = queries.Similarity(corpus);               // cosine by default
/// SearchHit[][] top = queries.SemanticSearch(corpus, topK: 5); // corpus ids and scores, best first
/// </code>
/// </summary>
public sealed class Embeddings
{
    private readonly float[] data;
    private float[]? norms;

    /// <summary>Wraps row-major values.</summary>
    /// <param name="data">B × D values, row-major; not copied.</param>
    /// <param name="count">B.</param>
    /// <param name="dimension">D.</param>
    /// <exception cref="ArgumentException">The sizes do not match.</exception>
    public Embeddings(float[] data, int count, int dimension)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegative(dimension);
        if ((long)count * dimension != data.Length)
            throw new ArgumentException($"{data.Length} values are not {count} rows of {dimension}.", nameof(data));
        this.data = data;
        Count = count;
        Dimension = dimension;
    }

    /// <summary>B, the number of vectors.</summary>
    public int Count { get; }

    /// <summary>D, the length of each vector.</summary>
    public int Dimension { get; }

    /// <summary>All values, row-major (B × D).</summary>
    public ReadOnlySpan<float> Values => data;

    /// <summary>The values' array itself (no copy), for views such as <c>ReadOnlyMemory</c> rows.</summary>
    internal float[] Buffer => data;

    /// <summary>Vector <paramref name="index"/>, without copying.</summary>
    /// <param name="index">0..B-1.</param>
    /// <returns>D values.</returns>
    public ReadOnlySpan<float> Row(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return data.AsSpan(index * Dimension, Dimension);
    }

    /// <summary>A copy of vector <paramref name="index"/>.</summary>
    /// <param name="index">0..B-1.</param>
    /// <returns>D values.</returns>
    public float[] RowArray(int index) => Row(index).ToArray();

    /// <summary>Vector <paramref name="index"/>, without copying (same as <see cref="Row"/>).</summary>
    /// <param name="index">0..B-1.</param>
    public ReadOnlySpan<float> this[int index] => Row(index);

    /// <summary>Copies every vector to its own array.</summary>
    /// <returns>B arrays of D values.</returns>
    public float[][] ToArray()
    {
        var rows = new float[Count][];
        for (var i = 0; i < Count; i++) rows[i] = RowArray(i);
        return rows;
    }

    /// <summary>A new (B, D) float32 CPU tensor with the vectors; the caller owns it.</summary>
    /// <returns>The tensor.</returns>
    public Tensor ToTensor()
    {
        // One straight copy into the tensor's storage (a CPU float32 tensor's bytes are a view).
        NativeRuntime.EnsureLoaded();
        var t = torch.empty([Count, Dimension], ScalarType.Float32);
        if (data.Length > 0) MemoryMarshal.AsBytes(data.AsSpan()).CopyTo(t.bytes);
        return t;
    }

    /// <summary>max(‖row‖, 1e-12) per row, computed once (cosine search divides by them).</summary>
    internal float[] Norms
    {
        get
        {
            if (norms is not null) return norms;
            var result = new float[Count];
            for (var i = 0; i < Count; i++) result[i] = (float)L2Normalization.Norm(Row(i));
            return norms = result;
        }
    }

    /// <summary>The values as a (B, D) CPU tensor that shares this object's memory (no copy); the tensor must not outlive
    /// the call that made it (dispose it, or make it inside a dispose scope) and must not be written to.</summary>
    internal Tensor View()
    {
        NativeRuntime.EnsureLoaded(); // vectors need no model: this may be the process's first tensor
        return data.Length == 0 ? torch.empty([Count, Dimension], ScalarType.Float32) : torch.frombuffer(data, ScalarType.Float32).view(Count, Dimension);
    }

    /// <summary>L2-normalises every vector: v / max(‖v‖, 1e-12) (<c>torch.nn.functional.normalize</c>).</summary>
    /// <returns>New embeddings.</returns>
    public Embeddings Normalize()
    {
        var result = new float[data.Length];
        for (var i = 0; i < Count; i++) L2Normalization.Normalize(data.AsSpan(i * Dimension, Dimension), result.AsSpan(i * Dimension, Dimension));
        return new Embeddings(result, Count, Dimension);
    }

    /// <summary>Keeps the first <paramref name="dimension"/> values of every vector (Matryoshka truncation).</summary>
    /// <param name="dimension">1..D.</param>
    /// <param name="renormalize">L2-normalise the truncated vectors.</param>
    /// <returns>New embeddings.</returns>
    public Embeddings Truncate(int dimension, bool renormalize = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(dimension, Dimension);
        var result = new float[Count * dimension];
        for (var i = 0; i < Count; i++)
        {
            var src = data.AsSpan(i * Dimension, dimension);
            var dst = result.AsSpan(i * dimension, dimension);
            if (renormalize) L2Normalization.Normalize(src, dst);
            else src.CopyTo(dst);
        }
        return new Embeddings(result, Count, dimension);
    }

    /// <summary>Concatenates the vectors of several results with the same count, in the order given.</summary>
    /// <param name="parts">The results.</param>
    /// <returns>(B, ΣD) embeddings.</returns>
    public static Embeddings Concat(params Embeddings[] parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Length == 0) throw new ArgumentException("Nothing to concatenate.", nameof(parts));
        var count = parts[0].Count;
        if (parts.Any(p => p.Count != count)) throw new ArgumentException("Every part must have the same number of vectors.", nameof(parts));
        var dim = parts.Sum(p => p.Dimension);
        var result = new float[count * dim];
        for (var i = 0; i < count; i++)
        {
            var at = i * dim;
            foreach (var p in parts)
            {
                p.Row(i).CopyTo(result.AsSpan(at));
                at += p.Dimension;
            }
        }
        return new Embeddings(result, count, dim);
    }

    /// <summary>The cosine similarity of vectors <paramref name="a"/> and <paramref name="b"/> (0 when one is zero).</summary>
    /// <param name="a">A row.</param>
    /// <param name="b">A row.</param>
    /// <returns>The similarity.</returns>
    public double Cosine(int a, int b)
    {
        var x = Row(a);
        var y = Row(b);
        double dot = 0, nx = 0, ny = 0;
        for (var i = 0; i < x.Length; i++)
        {
            dot += (double)x[i] * y[i];
            nx += (double)x[i] * x[i];
            ny += (double)y[i] * y[i];
        }
        return nx == 0 || ny == 0 ? 0 : dot / Math.Sqrt(nx * ny);
    }

    /// <summary>
    /// Scores every vector of this batch against every vector of <paramref name="other"/> (sentence-transformers'
    /// <c>model.similarity</c>): a (B, other.B) matrix, higher is more similar.
    /// </summary>
    /// <param name="other">Vectors of the same dimension.</param>
    /// <param name="function">Cosine (default), dot, or minus the Euclidean or Manhattan distance.</param>
    /// <returns>The scores, row i for vector i of this batch.</returns>
    /// <exception cref="ArgumentException">The dimensions differ.</exception>
    public float[,] Similarity(Embeddings other, SimilarityFunction function = SimilarityFunction.Cosine) =>
        VectorSimilarity.Matrix(this, other, function);

    /// <summary>
    /// Exact top-k search of a corpus with these vectors as queries (sentence-transformers' <c>util.semantic_search</c>):
    /// for every query the <paramref name="topK"/> most similar corpus rows, best first (ties by lower id). Scored in
    /// chunks over the corpus, so memory stays bounded whatever its size.
    /// </summary>
    /// <param name="corpus">The corpus vectors (same dimension).</param>
    /// <param name="topK">How many hits per query (fewer when the corpus is smaller).</param>
    /// <param name="function">Cosine (default), dot, or minus the Euclidean or Manhattan distance.</param>
    /// <returns>One array of hits per query.</returns>
    /// <exception cref="ArgumentException">The dimensions differ.</exception>
    public SearchHit[][] SemanticSearch(Embeddings corpus, int topK = 10, SimilarityFunction function = SimilarityFunction.Cosine) =>
        VectorSimilarity.TopK(this, corpus, topK, function);

    internal static Embeddings FromTensor(Tensor t)
    {
        using var scope = NewDisposeScope();
        if (t.dim() != 2) throw new ArgumentException($"Expected a (B, D) tensor; found ({string.Join(", ", t.shape)}).", nameof(t));
        var values = t.detach().to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        return new Embeddings(values, (int)t.shape[0], (int)t.shape[1]);
    }
}

using TorchSharp;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Pooling;

/// <summary>
/// A batch of vectors, (B, D) float32, one per input row, held as managed memory. Every operation returns a new
/// object. <see cref="Tensor"/> is a CPU tensor this object owns (made on first use, released by
/// <see cref="Dispose"/>); <see cref="ToTensor"/> gives a copy the caller owns.
/// </summary>
public sealed class Embeddings : IDisposable
{
    private readonly float[] data;
    private Tensor? tensor;

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

    /// <summary>Copies every vector to its own array.</summary>
    /// <returns>B arrays of D values.</returns>
    public float[][] ToArrays()
    {
        var rows = new float[Count][];
        for (var i = 0; i < Count; i++) rows[i] = RowArray(i);
        return rows;
    }

    /// <summary>The vectors as a (B, D) float32 CPU tensor owned by this object: do not dispose it.</summary>
    public Tensor Tensor
    {
        get
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            return tensor ??= ToTensor();
        }
    }

    private bool disposed;

    /// <summary>A new (B, D) float32 CPU tensor with the vectors; the caller owns it.</summary>
    /// <returns>The tensor.</returns>
    public Tensor ToTensor()
    {
        using var scope = NewDisposeScope();
        return scope.MoveToOuter(torch.tensor(data, [Count, Dimension]).clone());
    }

    /// <summary>L2-normalises every vector: v / max(‖v‖, 1e-12) (<c>torch.nn.functional.normalize</c>).</summary>
    /// <returns>New embeddings.</returns>
    public Embeddings Normalize()
    {
        var result = new float[data.Length];
        for (var i = 0; i < Count; i++) NormalizeInto(data.AsSpan(i * Dimension, Dimension), result.AsSpan(i * Dimension, Dimension));
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
            if (renormalize) NormalizeInto(src, dst);
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

    internal static Embeddings FromTensor(Tensor t)
    {
        using var scope = NewDisposeScope();
        if (t.dim() != 2) throw new ArgumentException($"Expected a (B, D) tensor; found ({string.Join(", ", t.shape)}).", nameof(t));
        var values = t.detach().to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        return new Embeddings(values, (int)t.shape[0], (int)t.shape[1]);
    }

    internal static void NormalizeInto(ReadOnlySpan<float> src, Span<float> dst)
    {
        double sum = 0;
        foreach (var v in src) sum += (double)v * v;
        var norm = Math.Max(Math.Sqrt(sum), 1e-12);
        for (var i = 0; i < src.Length; i++) dst[i] = (float)(src[i] / norm);
    }

    /// <summary>Releases <see cref="Tensor"/> if it was made.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        tensor?.Dispose();
        tensor = null;
    }
}

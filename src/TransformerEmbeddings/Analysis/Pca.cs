using TorchSharp;
using TransformerEmbeddings.Runtime;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Analysis;

/// <summary>
/// Principal component analysis of a set of vectors, as scikit-learn's <c>PCA</c> computes it (full SVD of the centred
/// data in float64; each component's sign fixed so that its largest-magnitude entry is positive).
/// <code>
/// var pca = Pca.Fit(embeddings.ToArray(), components: 2);
/// double[,] xy = pca.Projections;              // (N, 2): where each vector lands
/// double[] share = pca.ExplainedVarianceRatio; // how much of the variance each axis keeps
/// </code>
/// </summary>
public sealed class Pca
{
    private Pca(double[] mean, double[,] components, double[] variance, double[] ratio, double[,] projections)
    {
        Mean = mean;
        Components = components;
        ExplainedVariance = variance;
        ExplainedVarianceRatio = ratio;
        Projections = projections;
    }

    /// <summary>The mean vector subtracted before projecting, (D).</summary>
    public double[] Mean { get; }

    /// <summary>The principal axes, (k, D), unit length, by decreasing variance.</summary>
    public double[,] Components { get; }

    /// <summary>The variance along each axis (squared singular value / (N − 1)).</summary>
    public double[] ExplainedVariance { get; }

    /// <summary>Each axis's share of the total variance.</summary>
    public double[] ExplainedVarianceRatio { get; }

    /// <summary>The fitted vectors in component coordinates, (N, k).</summary>
    public double[,] Projections { get; }

    /// <summary>Fits k components to the rows of <paramref name="vectors"/>.</summary>
    /// <param name="vectors">N ≥ 2 vectors of one length D.</param>
    /// <param name="components">k, at most min(N, D).</param>
    /// <returns>The fit, with the rows' projections.</returns>
    /// <exception cref="ArgumentException">Fewer than two vectors, vectors of different lengths, or k out of range.</exception>
    public static Pca Fit(IReadOnlyList<float[]> vectors, int components = 2)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        if (vectors.Count < 2) throw new ArgumentException($"PCA needs at least two vectors; got {vectors.Count}.", nameof(vectors));
        var d = vectors[0].Length;
        var data = new double[vectors.Count * d];
        for (var i = 0; i < vectors.Count; i++)
        {
            if (vectors[i].Length != d)
                throw new ArgumentException($"Vector {i} has {vectors[i].Length} values; vector 0 has {d}.", nameof(vectors));
            for (var j = 0; j < d; j++) data[i * d + j] = vectors[i][j];
        }
        Runtime.NativeRuntime.EnsureLoaded(); // the SVD runs on libtorch, which may not be loaded yet
        using var scope = NewDisposeScope();
        return Fit(tensor(data, [vectors.Count, d]), components);
    }

    /// <summary>Fits k components to the rows of a (N, D) tensor (sentence embeddings, one layer's token states).</summary>
    /// <param name="vectors">(N, D), N ≥ 2.</param>
    /// <param name="components">k, at most min(N, D).</param>
    /// <returns>The fit, with the rows' projections.</returns>
    public static Pca Fit(Tensor vectors, int components = 2)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        if (vectors.dim() != 2 || vectors.shape[0] < 2)
            throw new ArgumentException($"Expected (N, D) with N ≥ 2; got ({string.Join(", ", vectors.shape)}).", nameof(vectors));
        var (n, d) = (vectors.shape[0], vectors.shape[1]);
        if (components < 1 || components > Math.Min(n, d))
            throw new ArgumentOutOfRangeException(nameof(components), components, $"Between 1 and min(N, D) = {Math.Min(n, d)} components.");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = vectors.to(ScalarType.Float64).cpu();
        var mean = x.mean([0L]);
        var centred = x - mean;
        var (_, s, vh) = linalg.svd(centred, fullMatrices: false);
        // scikit-learn's svd_flip (u_based_decision=False): the largest-magnitude entry of each component is positive.
        var largest = vh.abs().argmax(1, keepdim: true);
        var signs = vh.gather(1, largest).sign();
        signs = where(signs.eq(Scalars.Zero), ones_like(signs), signs);
        vh = vh * signs;
        using var degreesOfFreedom = (n - 1).ToScalar();
        var variance = s.pow(Scalars.Two).div(degreesOfFreedom);
        var total = variance.sum();
        var k = vh[..components];
        var projections = centred.matmul(k.t());
        return new Pca(mean.data<double>().ToArray(), Matrix(k), variance[..components].data<double>().ToArray(),
            (variance[..components] / total).data<double>().ToArray(), Matrix(projections));
    }

    /// <summary>Projects other vectors onto the fitted components (centred by the fitted mean), (M, k).</summary>
    /// <param name="vectors">Vectors of the fitted length.</param>
    /// <returns>Their coordinates.</returns>
    public double[,] Transform(IReadOnlyList<float[]> vectors)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        var (k, d) = (Components.GetLength(0), Mean.Length);
        var result = new double[vectors.Count, k];
        for (var i = 0; i < vectors.Count; i++)
        {
            if (vectors[i].Length != d) throw new ArgumentException($"Vector {i} has {vectors[i].Length} values; the fit has {d}.", nameof(vectors));
            for (var c = 0; c < k; c++)
            {
                double sum = 0;
                for (var j = 0; j < d; j++) sum += (vectors[i][j] - Mean[j]) * Components[c, j];
                result[i, c] = sum;
            }
        }
        return result;
    }

    private static double[,] Matrix(Tensor t)
    {
        var (rows, cols) = ((int)t.shape[0], (int)t.shape[1]);
        var flat = t.contiguous().data<double>().ToArray();
        var result = new double[rows, cols];
        Buffer.BlockCopy(flat, 0, result, 0, flat.Length * sizeof(double));
        return result;
    }
}

namespace TransformerEmbeddings.Analysis;

/// <summary>The nearest tokens of one attention head, under each metric asked for (null for those not asked for).</summary>
/// <param name="Head">The head, 0-based.</param>
/// <param name="Cosine">Nearest by cosine distance.</param>
/// <param name="Euclidean">Nearest by Euclidean distance.</param>
public sealed record HeadNeighbors(int Head, NearestTokens? Cosine, NearestTokens? Euclidean)
{
    /// <summary>The result under <paramref name="metric"/> (a single metric).</summary>
    /// <param name="metric"><see cref="DistanceMetric.Cosine"/> or <see cref="DistanceMetric.Euclidean"/>.</param>
    /// <returns>The result, or null when that metric was not asked for.</returns>
    public NearestTokens? this[DistanceMetric metric] => metric switch
    {
        DistanceMetric.Cosine => Cosine,
        DistanceMetric.Euclidean => Euclidean,
        _ => throw new ArgumentOutOfRangeException(nameof(metric), metric, "Ask for one metric: Cosine or Euclidean."),
    };
}

namespace TransformerEmbeddings.Analysis;

/// <summary>What a nearest-token search returns.</summary>
public sealed record NearestOptions
{
    /// <summary>How many candidates per head and metric (10 by default).</summary>
    public int K { get; init; } = 10;

    /// <summary>The metrics to rank by (both by default).</summary>
    public DistanceMetric Metrics { get; init; } = DistanceMetric.Both;

    /// <summary>The heads to search (negative from the end); every head when null.</summary>
    public IReadOnlyList<int>? Heads { get; init; }

    /// <summary>Which vectors stand for the vocabulary (value-space searches only).</summary>
    public VocabularyInput Vocabulary { get; init; } = VocabularyInput.EmbeddingOutput;

    internal void Validate()
    {
        if (K < 1) throw new ArgumentOutOfRangeException(nameof(K), K, "K must be at least 1.");
        if ((Metrics & DistanceMetric.Both) == 0 || (Metrics & ~DistanceMetric.Both) != 0)
            throw new ArgumentOutOfRangeException(nameof(Metrics), Metrics, "Ask for Cosine, Euclidean or both.");
    }
}

namespace TransformerEmbeddings.Analysis;

/// <summary>How far apart two vectors are; several can be asked for at once (<c>Cosine | Euclidean</c>).</summary>
[Flags]
public enum DistanceMetric
{
    /// <summary>1 − cosine similarity: 0 for the same direction, 2 for opposite ones.</summary>
    Cosine = 1,

    /// <summary>The L2 norm of the difference.</summary>
    Euclidean = 2,

    /// <summary>Both metrics.</summary>
    Both = Cosine | Euclidean,
}

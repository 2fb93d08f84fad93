namespace TransformerEmbeddings;

/// <summary>How two vectors are scored (sentence-transformers' <c>similarity_fn_name</c>); higher is always more similar.</summary>
public enum SimilarityFunction
{
    /// <summary><c>cosine</c>: the dot product of the L2-normalised vectors (the default).</summary>
    Cosine,

    /// <summary><c>dot</c>: the dot product.</summary>
    Dot,

    /// <summary><c>euclidean</c>: minus the Euclidean (L2) distance.</summary>
    Euclidean,

    /// <summary><c>manhattan</c>: minus the Manhattan (L1) distance.</summary>
    Manhattan,
}

/// <summary>The sentence-transformers names of <see cref="SimilarityFunction"/>.</summary>
internal static class SimilarityFunctions
{
    public static IReadOnlyList<string> Names { get; } = ["cosine", "dot", "euclidean", "manhattan"];

    public static bool TryParse(string? name, out SimilarityFunction function)
    {
        switch (name?.Trim().ToLowerInvariant())
        {
            case "cosine" or "cos_sim": function = SimilarityFunction.Cosine; return true;
            case "dot" or "dot_score" or "dot_product": function = SimilarityFunction.Dot; return true;
            case "euclidean" or "euclidean_sim": function = SimilarityFunction.Euclidean; return true;
            case "manhattan" or "manhattan_sim": function = SimilarityFunction.Manhattan; return true;
            default: function = SimilarityFunction.Cosine; return false;
        }
    }
}

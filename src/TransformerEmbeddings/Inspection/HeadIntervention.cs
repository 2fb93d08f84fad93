namespace TransformerEmbeddings.Inspection;

/// <summary>
/// Replaces one head's context (<c>hook_z</c>) in one layer: with zeros (ablation) or with a caller-given vector
/// broadcast over positions, before the attention output dense.
/// </summary>
/// <param name="Layer">The layer (negative counts from the end).</param>
/// <param name="Head">The head.</param>
/// <param name="Replacement">A vector of length head_dim, or null to zero the head.</param>
public sealed record HeadIntervention(int Layer, int Head, float[]? Replacement = null)
{
    /// <summary>Zeroes the context of <paramref name="head"/> in <paramref name="layer"/>.</summary>
    /// <param name="layer">The layer (negative counts from the end).</param>
    /// <param name="head">The head.</param>
    /// <returns>The intervention.</returns>
    public static HeadIntervention Ablate(int layer, int head) => new(layer, head);
}

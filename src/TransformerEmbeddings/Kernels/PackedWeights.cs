namespace TransformerEmbeddings.Kernels;

/// <summary>
/// A linear layer's (N × K) fp32 weight rearranged once for <see cref="Sgemm"/>: panels of
/// <see cref="Sgemm.PanelWidth"/> output channels, each panel k-major (<c>panel[k · 16 + j] = W[panel · 16 + j, k]</c>),
/// N padded with zero channels to a whole panel. The bias is kept beside it, padded the same way.
/// </summary>
internal sealed class PackedWeights
{
    private PackedWeights(int outFeatures, int inFeatures)
    {
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        Panels = (outFeatures + Sgemm.PanelWidth - 1) / Sgemm.PanelWidth;
        Packed = GC.AllocateArray<float>(checked(Panels * Sgemm.PanelWidth * inFeatures), pinned: true);
        Bias = GC.AllocateArray<float>(Panels * Sgemm.PanelWidth, pinned: true);
    }

    /// <summary>N.</summary>
    public int OutFeatures { get; }

    /// <summary>K.</summary>
    public int InFeatures { get; }

    /// <summary>The number of panels.</summary>
    public int Panels { get; }

    /// <summary>The packed weights (pinned).</summary>
    public float[] Packed { get; }

    /// <summary>The bias padded to whole panels (pinned; zeros for a layer without one).</summary>
    public float[] Bias { get; }

    /// <summary>Packs a row-major (N × K) weight and its bias (N values, or empty for none).</summary>
    /// <param name="weight">N × K values.</param>
    /// <param name="bias">N values or none.</param>
    /// <param name="outFeatures">N.</param>
    /// <param name="inFeatures">K.</param>
    /// <returns>The packed layer.</returns>
    public static PackedWeights Pack(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        if (weight.Length != (long)outFeatures * inFeatures) throw new ArgumentException($"Expected {outFeatures}×{inFeatures} weights, got {weight.Length}.", nameof(weight));
        if (!bias.IsEmpty && bias.Length != outFeatures) throw new ArgumentException($"Expected {outFeatures} bias values, got {bias.Length}.", nameof(bias));
        var p = new PackedWeights(outFeatures, inFeatures);
        var packed = p.Packed.AsSpan();
        for (int n = 0; n < outFeatures; n++)
        {
            int panel = n / Sgemm.PanelWidth, j = n % Sgemm.PanelWidth;
            var row = weight.Slice(n * inFeatures, inFeatures);
            var dst = packed.Slice(panel * inFeatures * Sgemm.PanelWidth);
            for (int k = 0; k < inFeatures; k++) dst[k * Sgemm.PanelWidth + j] = row[k];
        }
        bias.CopyTo(p.Bias);
        return p;
    }
}

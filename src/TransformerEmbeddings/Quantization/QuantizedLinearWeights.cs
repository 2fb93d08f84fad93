namespace TransformerEmbeddings.Quantization;

/// <summary>
/// The weights of a linear layer <c>y = x Wᵀ + b</c> (W: N × K) quantised per output channel, symmetrically, to
/// [−WeightMax, WeightMax], and packed for <see cref="Int8Gemm"/>: panels of <see cref="Int8Gemm.PanelWidth"/> output
/// channels; inside a panel, for each group of four inputs, each channel's four bytes in turn. K is padded to a multiple
/// of four and N to a multiple of the panel width with zero weights.
/// </summary>
internal sealed class QuantizedLinearWeights
{
    private QuantizedLinearWeights(int outFeatures, int inFeatures, QuantizationScheme scheme)
    {
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        Scheme = scheme;
        KGroups = (inFeatures + 3) / 4;
        Panels = (outFeatures + Int8Gemm.PanelWidth - 1) / Int8Gemm.PanelWidth;
        Packed = GC.AllocateUninitializedArray<sbyte>(Panels * KGroups * Int8Gemm.PanelWidth * 4, pinned: true);
        Scales = GC.AllocateArray<float>(PaddedOutFeatures, pinned: true);
        ColumnSums = GC.AllocateArray<int>(PaddedOutFeatures, pinned: true);
    }

    /// <summary>N, the number of output channels.</summary>
    public int OutFeatures { get; }

    /// <summary>K, the number of inputs.</summary>
    public int InFeatures { get; }

    /// <summary>The integer ranges used.</summary>
    public QuantizationScheme Scheme { get; }

    /// <summary>K / 4, rounded up: the kernel's steps.</summary>
    public int KGroups { get; }

    /// <summary>K rounded up to a multiple of four: the row stride of quantised activations.</summary>
    public int PaddedInFeatures => KGroups * 4;

    /// <summary>The number of panels of <see cref="Int8Gemm.PanelWidth"/> output channels.</summary>
    public int Panels { get; }

    /// <summary>N rounded up to a multiple of the panel width.</summary>
    public int PaddedOutFeatures => Panels * Int8Gemm.PanelWidth;

    /// <summary>The packed int8 weights (pinned).</summary>
    internal sbyte[] Packed { get; }

    /// <summary>Per output channel, <c>w ≈ scale · q</c>; zero in the padding (pinned, length <see cref="PaddedOutFeatures"/>).</summary>
    internal float[] Scales { get; }

    /// <summary>Per output channel, Σₖ q[n, k]: corrects for the activations' zero points (pinned).</summary>
    internal int[] ColumnSums { get; }

    /// <summary>The quantised weight of output channel <paramref name="n"/>, input <paramref name="k"/>.</summary>
    public sbyte this[int n, int k]
    {
        get
        {
            int panel = n / Int8Gemm.PanelWidth, column = n % Int8Gemm.PanelWidth;
            return Packed[((panel * KGroups + k / 4) * Int8Gemm.PanelWidth + column) * 4 + k % 4];
        }
    }

    /// <summary>Quantises and packs a row-major (N × K) weight matrix.</summary>
    /// <param name="weight">The weights, row n holding output channel n.</param>
    /// <param name="outFeatures">N.</param>
    /// <param name="inFeatures">K.</param>
    /// <param name="scheme">The integer ranges (default <see cref="QuantizationScheme.Default"/>).</param>
    /// <returns>The packed weights.</returns>
    public static QuantizedLinearWeights Quantize(ReadOnlySpan<float> weight, int outFeatures, int inFeatures, QuantizationScheme? scheme = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        if (weight.Length != (long)outFeatures * inFeatures)
            throw new ArgumentException($"Expected {outFeatures} × {inFeatures} weights, got {weight.Length}.", nameof(weight));
        var s = scheme ?? QuantizationScheme.Default;
        if (!s.IsSaturationFree) throw new ArgumentException($"The scheme {s} can saturate vpmaddubsw.", nameof(scheme));

        var q = new QuantizedLinearWeights(outFeatures, inFeatures, s);
        Array.Clear(q.Packed);
        for (int n = 0; n < outFeatures; n++)
        {
            var row = weight.Slice(n * inFeatures, inFeatures);
            float absMax = 0;
            foreach (var v in row)
            {
                if (!float.IsFinite(v)) throw new ArgumentException($"Non-finite weight in output channel {n}.", nameof(weight));
                absMax = MathF.Max(absMax, MathF.Abs(v));
            }
            float scale = absMax > 0 ? absMax / s.WeightMax : 1f;
            float inverse = 1f / scale;
            int panel = n / Int8Gemm.PanelWidth, column = n % Int8Gemm.PanelWidth, sum = 0;
            for (int k = 0; k < inFeatures; k++)
            {
                int v = Math.Clamp((int)MathF.Round(row[k] * inverse), -s.WeightMax, s.WeightMax);
                q.Packed[((panel * q.KGroups + k / 4) * Int8Gemm.PanelWidth + column) * 4 + k % 4] = (sbyte)v;
                sum += v;
            }
            q.Scales[n] = scale;
            q.ColumnSums[n] = sum;
        }
        return q;
    }
}

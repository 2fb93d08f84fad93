using TransformerEmbeddings.Pooling;

namespace TransformerEmbeddings.Analysis;

/// <summary>The per-dimension value ranges that map floats onto 256 integer levels (int8 and uint8 quantization).</summary>
/// <param name="Minimum">D values: the level-0 value of each dimension.</param>
/// <param name="Maximum">D values: the level-255 value of each dimension.</param>
public sealed record QuantizationRanges(float[] Minimum, float[] Maximum)
{
    /// <summary>The ranges of a calibration sample (each dimension's minimum and maximum), as sentence-transformers
    /// calibrates them; a few thousand embeddings of the same kind as those quantized later are typical.</summary>
    /// <param name="sample">At least one embedding.</param>
    /// <returns>The ranges.</returns>
    public static QuantizationRanges Calibrate(Embeddings sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        if (sample.Count == 0) throw new ArgumentException("Calibration needs at least one embedding.", nameof(sample));
        var (min, max) = (sample.RowArray(0), sample.RowArray(0));
        for (var i = 1; i < sample.Count; i++)
        {
            var row = sample.Row(i);
            for (var j = 0; j < row.Length; j++)
            {
                if (row[j] < min[j]) min[j] = row[j];
                if (row[j] > max[j]) max[j] = row[j];
            }
        }
        foreach (var v in min.Concat(max))
            if (!float.IsFinite(v)) throw new ArgumentException("The calibration sample holds NaN or infinite values.", nameof(sample));
        return new QuantizationRanges(min, max);
    }

    /// <summary>D.</summary>
    public int Dimension => Minimum.Length;
}

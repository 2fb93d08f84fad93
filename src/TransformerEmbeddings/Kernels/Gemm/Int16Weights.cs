namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// A linear layer's (N × K) fp32 weight quantised once for <see cref="Qgemm"/>: symmetric per output channel to
/// ±<see cref="Qgemm.Levels"/> (12 bits; a channel's scale is its largest |w| / 2047), stored as 16-bit integers in
/// panels of NR channels, each panel pair-major (<c>panel[(p · NR + j) · 2 + e] = q[panel · NR + j, 2p + e]</c>),
/// K padded with a zero to an even count.
/// </summary>
internal sealed unsafe class Int16Weights
{
    private Int16Weights(int outFeatures, int inFeatures, int width, WeightArena arena)
    {
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        Width = width;
        Pairs = (inFeatures + 1) / 2;
        Panels = (outFeatures + width - 1) / width;
        Length = checked((long)Panels * Pairs * 2 * width);
        Packed = arena.Allocate<short>(Length, out var block);
        Block = block;
        Scales = GC.AllocateArray<float>(Panels * width, pinned: true);
        Bias = GC.AllocateArray<float>(Panels * width, pinned: true);
    }

    /// <summary>N.</summary>
    public int OutFeatures { get; }

    /// <summary>K.</summary>
    public int InFeatures { get; }

    /// <summary>NR: channels per panel.</summary>
    public int Width { get; }

    /// <summary>K / 2, rounded up.</summary>
    public int Pairs { get; }

    /// <summary>The number of panels.</summary>
    public int Panels { get; }

    /// <summary>The quantised, packed weights, <see cref="Length"/> values in the arena (valid as long as this object lives).</summary>
    public short* Packed { get; }

    /// <summary>The arena block holding <see cref="Packed"/>, referenced so that it stays alive.</summary>
    public object Block { get; }

    /// <summary>The number of packed values.</summary>
    public long Length { get; }

    /// <summary>The packed weights as a span (tests).</summary>
    public ReadOnlySpan<short> Values => new(Packed, checked((int)Length));

    /// <summary>Each output channel's scale (w ≈ scale · q), padded to whole panels (pinned).</summary>
    public float[] Scales { get; }

    /// <summary>The fp32 bias padded to whole panels (pinned; zeros for a layer without one).</summary>
    public float[] Bias { get; }

    /// <summary>Quantises and packs a row-major (N × K) weight and its bias (N values, or empty for none) into panels of <paramref name="width"/>.</summary>
    /// <exception cref="ArgumentException">A weight is NaN or infinite, or the sizes disagree.</exception>
    public static Int16Weights Pack(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures, int width, WeightArena? arena = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if (weight.Length != (long)outFeatures * inFeatures) throw new ArgumentException($"Expected {outFeatures}×{inFeatures} weights, got {weight.Length}.", nameof(weight));
        if (!bias.IsEmpty && bias.Length != outFeatures) throw new ArgumentException($"Expected {outFeatures} bias values, got {bias.Length}.", nameof(bias));
        var p = new Int16Weights(outFeatures, inFeatures, width, arena ?? new WeightArena());
        unsafe
        {
            fixed (float* w = weight)
            {
                short* packed = p.Packed;
                for (int n = 0; n < outFeatures; n++)
                {
                    float* row = w + (long)n * inFeatures;
                    float max = 0;
                    for (int k = 0; k < inFeatures; k++) max = MathF.Max(max, MathF.Abs(row[k]));
                    if (!float.IsFinite(max)) throw new ArgumentException($"Output channel {n} has a non-finite weight.", nameof(weight));
                    float inverse = max > 0 ? Qgemm.Levels / max : 0;
                    p.Scales[n] = max / Qgemm.Levels;
                    int panel = n / width, j = n % width;
                    short* d = packed + (long)panel * p.Pairs * 2 * width + 2 * j;
                    for (int k = 0; k < inFeatures; k++)
                        d[(long)(k >> 1) * 2 * width + (k & 1)] = (short)Math.Clamp(MathF.Round(row[k] * inverse), -Qgemm.Levels, Qgemm.Levels);
                }
            }
        }
        bias.CopyTo(p.Bias);
        return p;
    }
}

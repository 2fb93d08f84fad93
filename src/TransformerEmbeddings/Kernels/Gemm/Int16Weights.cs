namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// A linear layer's (N × K) fp32 weight quantised once for <see cref="Qgemm"/>: symmetric per output channel to
/// ±<see cref="Qgemm.Levels"/> (12 bits; a channel's scale is its largest |w| / 2047) or ±<see cref="Qgemm.ByteLevels"/>, stored as 16-bit integers in
/// panels of NR channels, each panel pair-major (<c>panel[(p · NR + j) · 2 + e] = q[panel · NR + j, 2p + e]</c>),
/// K padded with a zero to an even count.
/// </summary>
internal sealed unsafe class Int16Weights
{
    private Int16Weights(int outFeatures, int inFeatures, int width, int levels, WeightArena arena)
    {
        Levels = levels;
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

    /// <summary>The largest quantised magnitude (<see cref="Qgemm.Levels"/> or <see cref="Qgemm.ByteLevels"/>).</summary>
    public int Levels { get; }

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
    /// <param name="weight">The weight.</param>
    /// <param name="bias">The bias, or empty.</param>
    /// <param name="outFeatures">N.</param>
    /// <param name="inFeatures">K.</param>
    /// <param name="width">NR.</param>
    /// <param name="arena">Where the packed values go; their own memory when null.</param>
    /// <param name="threads">The most threads to pack panels on (the caller included).</param>
    /// <param name="levels">The largest quantised magnitude: <see cref="Qgemm.Levels"/> or <see cref="Qgemm.ByteLevels"/>.</param>
    /// <exception cref="ArgumentException">A weight is NaN or infinite, or the sizes disagree.</exception>
    public static Int16Weights Pack(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures, int width, WeightArena? arena = null, int threads = 1, int levels = Qgemm.Levels)
    {
        if (levels is not (Qgemm.Levels or Qgemm.ByteLevels)) throw new ArgumentOutOfRangeException(nameof(levels), levels, $"Expected {Qgemm.Levels} or {Qgemm.ByteLevels}.");
        Packing.CheckShapes(weight.Length, bias.Length, outFeatures, inFeatures, width);
        var p = new Int16Weights(outFeatures, inFeatures, width, levels, arena ?? new WeightArena());
        fixed (float* w = weight)
        fixed (float* scales = p.Scales)
        {
            var job = new PackJob { Weight = w, Packed = p.Packed, Scales = scales, N = outFeatures, K = inFeatures, Pairs = p.Pairs, Width = width, Levels = levels, FirstBad = int.MaxValue };
            // Loading a model packs every layer on its first pass: both cores halve what a user waits for.
            TileWorkers.For(p.Panels, threads, &job, &PackPanel);
            if (job.FirstBad != int.MaxValue) throw new ArgumentException($"Output channel {job.FirstBad} has a non-finite weight.", nameof(weight));
        }
        bias.CopyTo(p.Bias);
        return p;
    }

    private struct PackJob
    {
        public float* Weight;
        public short* Packed;
        public float* Scales;
        public int N, K, Pairs, Width, Levels, FirstBad;
    }

    /// <summary>
    /// One panel: each channel quantised as the activations are (<see cref="Qgemm.Quantize(float*, int, short*, int, float*, int)"/>:
    /// the same multiply by levels / max and round to nearest even, so the same values), then its pairs spread NR apart.
    /// </summary>
    private static void PackPanel(void* context, int panel)
    {
        ref var job = ref *(PackJob*)context;
        var buffer = new short[2 * job.Pairs];
        fixed (short* row = buffer)
        {
        int first = panel * job.Width, last = Math.Min(first + job.Width, job.N);
        var pairs = (int*)(job.Packed + (long)panel * job.Pairs * 2 * job.Width);
        for (int n = first; n < last; n++)
        {
            float scale;
            Qgemm.Quantize(job.Weight + (long)n * job.K, job.K, row, job.Pairs, &scale, job.Levels);
            if (!float.IsFinite(scale))
            {
                Packing.LowerTo(ref job.FirstBad, n);
                continue;
            }
            job.Scales[n] = scale;
            int* d = pairs + (n - first);
            var source = (int*)row;
            for (int q = 0; q < job.Pairs; q++) d[(long)q * job.Width] = source[q];
        }
        }
    }
}

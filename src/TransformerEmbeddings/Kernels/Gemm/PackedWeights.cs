namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// A linear layer's (N × K) fp32 weight rearranged once for one micro-kernel width NR: panels of NR output channels,
/// each k-major (<c>panel[k · NR + j] = W[panel · NR + j, k]</c>), N padded with zero channels to whole panels, so a
/// panel streams from memory sequentially. The bias is kept beside it, padded the same way.
/// </summary>
internal sealed unsafe class PackedWeights
{
    private PackedWeights(int outFeatures, int inFeatures, int width, WeightArena arena)
    {
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        Width = width;
        Panels = (outFeatures + width - 1) / width;
        Length = checked((long)Panels * width * inFeatures);
        Packed = arena.Allocate<float>(Length, out var block);
        Block = block;
        Bias = GC.AllocateArray<float>(Panels * width, pinned: true);
    }

    /// <summary>N.</summary>
    public int OutFeatures { get; }

    /// <summary>K.</summary>
    public int InFeatures { get; }

    /// <summary>NR: channels per panel.</summary>
    public int Width { get; }

    /// <summary>The number of panels.</summary>
    public int Panels { get; }

    /// <summary>The packed weights, <see cref="Length"/> floats in the arena (valid as long as this object lives).</summary>
    public float* Packed { get; }

    /// <summary>The arena block holding <see cref="Packed"/>, referenced so that it stays alive.</summary>
    public object Block { get; }

    /// <summary>The number of packed values.</summary>
    public long Length { get; }

    /// <summary>The packed weights as a span (tests).</summary>
    public ReadOnlySpan<float> Values => new(Packed, checked((int)Length));

    /// <summary>The bias padded to whole panels (pinned; zeros for a layer without one).</summary>
    public float[] Bias { get; }

    /// <summary>Packs a row-major (N × K) weight and its bias (N values, or empty for none) into panels of <paramref name="width"/>.</summary>
    /// <param name="weight">The weight.</param>
    /// <param name="bias">The bias, or empty.</param>
    /// <param name="outFeatures">N.</param>
    /// <param name="inFeatures">K.</param>
    /// <param name="width">NR.</param>
    /// <param name="arena">Where the packed values go; their own memory when null.</param>
    /// <param name="threads">The most threads to pack panels on (the caller included).</param>
    public static PackedWeights Pack(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures, int width, WeightArena? arena = null, int threads = 1)
    {
        Packing.CheckShapes(weight.Length, bias.Length, outFeatures, inFeatures, width);
        var p = new PackedWeights(outFeatures, inFeatures, width, arena ?? new WeightArena());
        fixed (float* w = weight)
        {
            var job = new PackJob { Weight = w, Packed = p.Packed, N = outFeatures, K = inFeatures, Width = width };
            // Loading a model packs every layer on its first pass: both cores halve what a user waits for.
            TileWorkers.For(p.Panels, threads, &job, &PackPanel);
        }
        bias.CopyTo(p.Bias);
        return p;
    }

    private struct PackJob
    {
        public float* Weight;
        public float* Packed;
        public int N, K, Width;
    }

    /// <summary>One panel, a channel at a time: each row is read in order and lands NR apart inside the panel (which
    /// stays in L2), instead of NR rows read in parallel, a float from each.</summary>
    private static void PackPanel(void* context, int panel)
    {
        ref var job = ref *(PackJob*)context;
        int first = panel * job.Width, last = Math.Min(first + job.Width, job.N);
        float* d = job.Packed + (long)panel * job.K * job.Width;
        for (int n = first; n < last; n++)
        {
            float* row = job.Weight + (long)n * job.K, column = d + (n - first);
            for (int k = 0; k < job.K; k++) column[(long)k * job.Width] = row[k];
        }
    }
}

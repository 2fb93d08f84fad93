namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// An 8-bit layer's (N × K) fp32 weight for <see cref="Qgemm8"/>: quantised per output channel exactly as
/// <see cref="Int16Weights"/> does at <see cref="Qgemm.ByteLevels"/> (the same values), stored as signed bytes in panels
/// of NR channels, each panel quad-major (<c>panel[(u · NR + j) · 4 + e] = q[panel · NR + j, 4u + e]</c>), K padded with
/// zeros to a multiple of 4. The activations come as unsigned bytes q + 128, so each k-block's sums carry
/// <c>128 · Σ q[j, k]</c> over the block, which <see cref="Compensation"/> holds to take away.
/// </summary>
internal sealed unsafe class ByteWeights
{
    private ByteWeights(int outFeatures, int inFeatures, int width, WeightArena arena)
    {
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        Width = width;
        Quads = (inFeatures + 3) / 4;
        Blocks = (Quads + Qgemm8.KBlockQuads - 1) / Qgemm8.KBlockQuads;
        Panels = (outFeatures + width - 1) / width;
        Length = checked((long)Panels * Quads * 4 * width);
        Packed = arena.Allocate<sbyte>(Length, out var block);
        Block = block;
        Scales = GC.AllocateArray<float>(Panels * width, pinned: true);
        Bias = GC.AllocateArray<float>(Panels * width, pinned: true);
        Compensation = GC.AllocateArray<int>(Panels * Blocks * width, pinned: true);
    }

    /// <summary>N.</summary>
    public int OutFeatures { get; }

    /// <summary>K.</summary>
    public int InFeatures { get; }

    /// <summary>NR: channels per panel.</summary>
    public int Width { get; }

    /// <summary>K / 4, rounded up.</summary>
    public int Quads { get; }

    /// <summary>The k-blocks of <see cref="Qgemm8.KBlockQuads"/> quads (the last may be shorter).</summary>
    public int Blocks { get; }

    /// <summary>The number of panels.</summary>
    public int Panels { get; }

    /// <summary>The packed weights, <see cref="Length"/> bytes in the arena (valid as long as this object lives).</summary>
    public sbyte* Packed { get; }

    /// <summary>The arena block holding <see cref="Packed"/>, referenced so that it stays alive.</summary>
    public object Block { get; }

    /// <summary>The number of packed bytes.</summary>
    public long Length { get; }

    /// <summary>Each output channel's scale (w ≈ scale · q), padded to whole panels (pinned).</summary>
    public float[] Scales { get; }

    /// <summary>The fp32 bias padded to whole panels (pinned; zeros for a layer without one).</summary>
    public float[] Bias { get; }

    /// <summary><c>[(panel · Blocks + block) · NR + j]</c> = 128 · Σ q[panel · NR + j, k] over the block's k (pinned).</summary>
    public int[] Compensation { get; }

    /// <summary>Quantises and packs a row-major (N × K) weight and its bias (N values, or empty for none) into panels of <paramref name="width"/>.</summary>
    /// <exception cref="ArgumentException">A weight is NaN or infinite, or the sizes disagree.</exception>
    public static ByteWeights Pack(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures, int width, WeightArena? arena = null, int threads = 1)
    {
        Packing.CheckShapes(weight.Length, bias.Length, outFeatures, inFeatures, width);
        var p = new ByteWeights(outFeatures, inFeatures, width, arena ?? new WeightArena());
        fixed (float* w = weight)
        fixed (float* scales = p.Scales)
        fixed (int* compensation = p.Compensation)
        {
            var job = new PackJob { Weight = w, Packed = p.Packed, Scales = scales, Compensation = compensation, N = outFeatures, K = inFeatures, Quads = p.Quads, Blocks = p.Blocks, Width = width, FirstBad = int.MaxValue };
            TileWorkers.For(p.Panels, threads, &job, &PackPanel);
            if (job.FirstBad != int.MaxValue) throw new ArgumentException($"Output channel {job.FirstBad} has a non-finite weight.", nameof(weight));
        }
        bias.CopyTo(p.Bias);
        return p;
    }

    private struct PackJob
    {
        public float* Weight;
        public sbyte* Packed;
        public float* Scales;
        public int* Compensation;
        public int N, K, Quads, Blocks, Width, FirstBad;
    }

    /// <summary>One panel: each channel quantised by <see cref="Qgemm.Quantize(float*, int, short*, int, float*, int)"/> at 8 bits, its quads spread NR apart.</summary>
    private static void PackPanel(void* context, int panel)
    {
        ref var job = ref *(PackJob*)context;
        var buffer = new short[4 * job.Quads];
        fixed (short* row = buffer)
        {
            int first = panel * job.Width, last = Math.Min(first + job.Width, job.N);
            var quads = job.Packed + (long)panel * job.Quads * 4 * job.Width;
            for (int n = first; n < last; n++)
            {
                float scale;
                Qgemm.Quantize(job.Weight + (long)n * job.K, job.K, row, 2 * job.Quads, &scale, Qgemm.ByteLevels);
                if (!float.IsFinite(scale))
                {
                    Packing.LowerTo(ref job.FirstBad, n);
                    continue;
                }
                job.Scales[n] = scale;
                int j = n - first;
                for (int u = 0; u < job.Quads; u++)
                    for (int e = 0; e < 4; e++)
                        quads[((long)u * job.Width + j) * 4 + e] = (sbyte)row[4 * u + e];
                for (int b = 0; b < job.Blocks; b++)
                {
                    int sum = 0;
                    for (int k = 4 * b * Qgemm8.KBlockQuads; k < Math.Min(4 * job.Quads, 4 * (b + 1) * Qgemm8.KBlockQuads); k++) sum += row[k];
                    job.Compensation[((long)panel * job.Blocks + b) * job.Width + j] = 128 * sum;
                }
            }
        }
    }
}

namespace TransformerEmbeddings.Kernels.Linear;

/// <summary>
/// One linear layer computed in column blocks by kernels of their own, each writing its columns of the one output: the
/// fast mode's query at 8 bits beside key and value at 12 (<see cref="ComputeBackend"/>). Every block reads the
/// same input.
/// </summary>
internal sealed unsafe class SplitLinear : CpuLinear
{
    private readonly CpuLinear[] parts;

    /// <summary>The layer whose output columns are the parts' outputs side by side, in order.</summary>
    /// <exception cref="ArgumentException">No parts, or parts with different inputs.</exception>
    public SplitLinear(IReadOnlyList<CpuLinear> parts) : base(parts, Columns(parts), parts.Count == 0 ? 0 : parts[0].InFeatures) => this.parts = [.. parts];

    private static int Columns(IReadOnlyList<CpuLinear> parts)
    {
        if (parts.Count == 0) throw new ArgumentException("A split layer needs a part.", nameof(parts));
        if (parts.Any(p => p.InFeatures != parts[0].InFeatures)) throw new ArgumentException("Every part must read the same inputs.", nameof(parts));
        return parts.Sum(p => p.OutFeatures);
    }

    /// <summary>The column blocks, in order.</summary>
    public IReadOnlyList<CpuLinear> Parts => parts;

    /// <inheritdoc/>
    public override bool IsPacked => parts.All(p => p.IsPacked);

    /// <inheritdoc/>
    public override void Prepare(int threads)
    {
        foreach (var part in parts) part.Prepare(threads);
    }

    /// <inheritdoc/>
    protected internal override void Run(float* x, int rows, float* y, int ldy, int threads, bool gelu)
    {
        foreach (var part in parts)
        {
            part.Run(x, rows, y, ldy, threads, gelu);
            y += part.OutFeatures;
        }
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        foreach (var part in parts) part.Dispose();
    }
}

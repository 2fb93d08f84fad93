namespace TransformerEmbeddings.Kernels;

/// <summary>A linear layer's copies of its weight for the CPU kernels, each made on first use (loading stays a memory map).</summary>
internal sealed class KernelCache
{
    /// <summary>The exact path's fp32 panels.</summary>
    public PackedLinear? Float32;

    /// <summary>The fast mode's 12-bit integer panels.</summary>
    public Int16Linear? Int16;
}

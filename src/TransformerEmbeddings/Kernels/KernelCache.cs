using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels;

/// <summary>A linear layer's copies of its weight for the CPU kernels, each made on first use (loading stays a memory map).</summary>
internal sealed class KernelCache
{
    /// <summary>The exact path's fp32 panels.</summary>
    public PackedLinear? Float32;

    /// <summary>The fast mode's 12-bit integer panels.</summary>
    public Int16Linear? Int16;

    /// <summary>The exact path's kernel for this weight, packed on the first call; null where it cannot run.</summary>
    public PackedLinear? Float32For(Tensor weight, Tensor? bias) => GetOrCreate(ref Float32, weight, bias, PackedLinear.TryCreate);

    /// <summary>The fast mode's kernel for this weight, quantised on the first call; null where it cannot run.</summary>
    public Int16Linear? Int16For(Tensor weight, Tensor? bias) => GetOrCreate(ref Int16, weight, bias, Int16Linear.TryCreate);

    private static T? GetOrCreate<T>(ref T? slot, Tensor weight, Tensor? bias, Func<Tensor, Tensor?, T?> create) where T : class
    {
        var kernel = Volatile.Read(ref slot);
        if (kernel is not null) return kernel;
        Interlocked.CompareExchange(ref slot, create(weight, bias), null); // a race packs twice and keeps one
        return slot;
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels;

/// <summary>Raw access to a CPU tensor's storage for the kernels; the tensor must stay alive (and not move) while used.</summary>
internal static unsafe class TensorMemory
{
    /// <summary>The first float of a contiguous CPU float32 tensor (<c>Tensor.bytes</c> is a view, not a copy).</summary>
    public static float* Floats(Tensor t) => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));

    /// <summary>The first byte of a contiguous CPU tensor.</summary>
    public static byte* Bytes(Tensor t) => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));

    /// <summary>
    /// A new uninitialised CPU float32 tensor for a kernel's output: from <see cref="OutputPool"/>'s kept blocks when it
    /// is large enough to matter, else from libtorch's allocator.
    /// </summary>
    public static Tensor Output(long[] shape)
    {
        long elements = 1;
        foreach (var d in shape) elements *= d;
        if (elements * sizeof(float) >= OutputPool.MinimumBytes && OutputPool.TryRent(shape) is { } kept) return kept;
        return empty(shape, ScalarType.Float32);
    }
}

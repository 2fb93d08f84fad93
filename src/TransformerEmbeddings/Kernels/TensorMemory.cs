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
    /// A new uninitialised CPU float32 tensor for a kernel's output. Outputs above glibc's mmap threshold (32 MB once
    /// <see cref="Runtime.NativeRuntime"/> fixed it; bert-base's up-projection at 32 × 128 is 50 MB) come back from the
    /// kernel as fresh 4 KB pages on every call, a page fault each (~12,000 per tensor); these are asked for as 2 MB pages
    /// and mapped in one call. Smaller ones are reused heap memory, already mapped: advising them only cost system calls
    /// (1.5 % of a pass over long sentences). Where glibc keeps its own threshold (it starts at 128 KB), from 8 MB.
    /// </summary>
    public static Tensor Output(long[] shape)
    {
        var y = empty(shape, ScalarType.Float32);
        long bytes = y.NumberOfElements * sizeof(float);
        if (bytes >= (Runtime.NativeRuntime.HeapKeepsActivations ? HeapBlockBytes : LargeOutputBytes))
        {
            var p = Bytes(y);
            Runtime.Pages.UseHugePages(p, bytes);
            Runtime.Pages.PopulateForWrite(p, bytes);
        }
        return y;
    }


    private const long LargeOutputBytes = 8 << 20, HeapBlockBytes = 32 << 20;
}

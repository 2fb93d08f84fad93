using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels;

/// <summary>
/// Kernel outputs from native blocks kept for the next forward pass, instead of glibc's heap. Activations are a few
/// large buffers per layer whose sizes change from pass to pass (the batch's length); glibc's heap grew around them
/// (fragmentation, a secondary heap per thread arena that it unmaps whenever it empties) and trimmed back past its
/// threshold, so pass after pass wrote to newly mapped pages: a fault each, ~12 µs on a VM (bert-base 8 × 512:
/// 10,000–60,000 faults per forward in steady state; outputs of 32 MB and more were mapped afresh on every call).
/// A block here is mapped once (2 MB pages from 2 MB up, populated in one call), lent to a tensor that LibTorchSharp's
/// <c>THSTensor_new</c> makes over it with a deleter, and handed back when libtorch frees the storage — its last view
/// gone, on whatever thread that happens. An output takes the smallest idle block that holds it without wasting half
/// of it; at most <see cref="IdleLimit"/> bytes wait idle, beyond that blocks are freed.
/// </summary>
internal static unsafe class OutputPool
{
    /// <summary>The smallest output that comes from here; smaller ones are cheap for glibc.</summary>
    public const long MinimumBytes = 256L << 10;

    /// <summary>Idle blocks kept at most, as glibc's trim threshold is set (<see cref="Runtime.NativeRuntime"/>).</summary>
    public const long IdleLimit = 256L << 20;

    private const long HugePage = 2L << 20, Granule = 64L << 10;
    private static readonly object Gate = new();
    private static readonly List<(nint Block, long Size)> Idle = [];
    private static readonly Dictionary<nint, long> Lent = [];
    private static long idleBytes;
    private static bool unavailable = !OperatingSystem.IsLinux();

    /// <summary>Blocks lent out now (tests).</summary>
    internal static int LentCount
    {
        get { lock (Gate) return Lent.Count; }
    }

    /// <summary>Bytes of idle blocks waiting for their next output (tests).</summary>
    internal static long IdleBytes
    {
        get { lock (Gate) return idleBytes; }
    }

    // LibTorchSharp's from_blob with a deleter: (data, deleter, sizes, ndim, element type, tensor type, device type, device index, requires_grad).
    [DllImport("LibTorchSharp", EntryPoint = "THSTensor_new")]
    private static extern IntPtr NewTensor(void* data, delegate* unmanaged[Cdecl]<void*, void> deleter, long* sizes, int dimensions,
        sbyte elementType, sbyte tensorType, int deviceType, int deviceIndex, byte requiresGrad);

    /// <summary>A new uninitialised CPU float32 tensor over a kept block, or null where that cannot be done (then allocate as usual).</summary>
    public static Tensor? TryRent(long[] shape)
    {
        if (unavailable) return null;
        long bytes = sizeof(float);
        foreach (var d in shape) bytes = checked(bytes * d);
        long unit = bytes >= HugePage ? HugePage : Granule;
        long size = (bytes + unit - 1) & ~(unit - 1);
        void* block = Take(size);
        if (block is null)
        {
            block = NativeMemory.AlignedAlloc((nuint)size, (nuint)unit);
            if (unit == HugePage) Runtime.Pages.UseHugePages(block, size);
            Runtime.Pages.PopulateForWrite(block, size);
            lock (Gate) Lent[(nint)block] = size;
        }
        IntPtr handle;
        try
        {
            fixed (long* dims = shape)
                handle = NewTensor(block, &Release, dims, shape.Length, (sbyte)ScalarType.Float32, (sbyte)ScalarType.Float32, 0, 0, 0);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            unavailable = true;
            handle = IntPtr.Zero;
        }
        if (handle == IntPtr.Zero)
        {
            GiveBack(block);
            return null;
        }
        return Tensor.UnsafeCreateTensor(handle);
    }

    /// <summary>The smallest idle block that holds <paramref name="size"/> bytes without wasting half of itself, taken out.</summary>
    private static void* Take(long size)
    {
        lock (Gate)
        {
            int best = -1;
            for (int i = 0; i < Idle.Count; i++)
                if (Idle[i].Size >= size && Idle[i].Size <= 2 * size && (best < 0 || Idle[i].Size < Idle[best].Size)) best = i;
            if (best < 0) return null;
            var (block, kept) = Idle[best];
            Idle.RemoveAt(best);
            idleBytes -= kept;
            Lent[block] = kept;
            return (void*)block;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Release(void* block) => GiveBack(block);

    /// <summary>libtorch's deleter: the block waits for the next output, or is freed past the idle limit.</summary>
    private static void GiveBack(void* block)
    {
        lock (Gate)
        {
            if (!Lent.Remove((nint)block, out var size)) return;
            if (idleBytes + size <= IdleLimit)
            {
                Idle.Add(((nint)block, size));
                idleBytes += size;
                return;
            }
        }
        NativeMemory.AlignedFree(block);
    }
}

namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// The memory a model's packed weights are carved from: pinned blocks of at least 16 MB, aligned to 2 MB and backed by
/// huge pages where the kernel allows, mapped in one call. Packing all-MiniLM-L6-v2 writes 42 MB of new memory on the
/// first forward pass; in 4 KB pages that was ~11,000 page faults (0.2–0.4 s on a virtual machine). Blocks are managed
/// arrays, so a kernel that outlives its model still points at live memory.
/// </summary>
internal sealed unsafe class WeightArena
{
    private const long BlockBytes = 16 << 20, HugePage = 2 << 20, Alignment = 64;
    private readonly object gate = new();
    private readonly long maxReserve;

    /// <summary>An empty arena.</summary>
    /// <param name="maxReserve">The most <see cref="Reserve"/> maps ahead (one managed array holds it).</param>
    public WeightArena(long maxReserve = 1L << 30) => this.maxReserve = maxReserve;

    private readonly List<byte[]> blocks = [];
    private byte* next;
    private long left;

    /// <summary>How many blocks the arena has mapped.</summary>
    public int Blocks
    {
        get
        {
            lock (gate) return blocks.Count;
        }
    }

    /// <summary>Zeroed room for <paramref name="count"/> values, 64-byte aligned, valid while <paramref name="owner"/> is referenced.</summary>
    public T* Allocate<T>(long count, out object owner) where T : unmanaged
    {
        long bytes = (count * sizeof(T) + Alignment - 1) & ~(Alignment - 1);
        lock (gate)
        {
            if (bytes > left) AddBlock(Math.Max(bytes, BlockBytes));
            var p = next;
            next += bytes;
            left -= bytes;
            owner = blocks[^1];
            new Span<byte>(p, checked((int)bytes)).Clear(); // a block's pages may be recycled GC memory
            return (T*)p;
        }
    }

    /// <summary>
    /// Maps room for about <paramref name="bytes"/> of packed weights now, so that the first forward pass, which packs
    /// them, finds its memory ready: getting huge pages can take the kernel tens of milliseconds (compaction).
    /// </summary>
    public void Reserve(long bytes)
    {
        if (bytes <= 0) return;
        bytes = Math.Min(bytes, maxReserve); // one block (a managed array); a larger model maps the rest as it packs
        lock (gate)
        {
            if (bytes > left) AddBlock(Math.Max((bytes + HugePage - 1) & ~(HugePage - 1), BlockBytes));
        }
    }

    private void AddBlock(long bytes)
    {
        var block = GC.AllocateUninitializedArray<byte>(checked((int)(bytes + HugePage)), pinned: true);
        fixed (byte* raw = block)
        {
            var start = (byte*)(((long)raw + HugePage - 1) & ~(HugePage - 1));
            Runtime.Pages.UseHugePages(start, bytes);
            Runtime.Pages.PopulateForWrite(start, bytes); // in 2 MB calls, so the main thread's allocations get through meanwhile
            next = start;
        }
        left = bytes;
        blocks.Add(block);
    }
}

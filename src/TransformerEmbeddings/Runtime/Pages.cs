using System.Runtime.InteropServices;

namespace TransformerEmbeddings.Runtime;

/// <summary>
/// Asks the kernel to map a range of pages in one call instead of one fault per 4 KB page on first touch. Copying the
/// weights out of the memory-mapped checkpoint and packing them for the kernels touch ~130 MB of new pages for
/// all-MiniLM-L6-v2 (~33,000 faults); on a virtual machine each fault costs microseconds. Linux 5.14+
/// (<c>MADV_POPULATE_READ/WRITE</c>); a no-op elsewhere or when the kernel refuses.
/// </summary>
internal static unsafe class Pages
{
    private const int HugePage = 14, PopulateRead = 22, PopulateWrite = 23;
    private const long PageSize = 4096;
    private static bool unavailable = !OperatingSystem.IsLinux();

    [DllImport("libc", SetLastError = true)]
    private static extern int madvise(void* address, nuint length, int advice);

    /// <summary>Maps the whole pages inside [p, p + bytes) for reading (file-backed memory, from the page cache).</summary>
    public static void PopulateForRead(void* p, long bytes) => Advise(p, bytes, PopulateRead);

    /// <summary>Maps the whole pages inside [p, p + bytes) for writing (fresh anonymous memory, zeroed by the kernel at once).</summary>
    public static void PopulateForWrite(void* p, long bytes) => Advise(p, bytes, PopulateWrite);

    /// <summary>Asks for 2 MB pages under the whole 2 MB blocks inside [p, p + bytes) (transparent huge pages in
    /// <c>madvise</c> mode): one fault per 2 MB instead of 512.</summary>
    public static void UseHugePages(void* p, long bytes) => Advise(p, bytes, HugePage);

    /// <summary>Binds <c>madvise</c> with a call that changes nothing (a zero-length range), see <see cref="NativeCalls"/>.</summary>
    public static void Bind(void* page)
    {
        if (unavailable) return;
        try
        {
            _ = madvise((void*)((long)page & ~(PageSize - 1)), 0, PopulateRead);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            unavailable = true;
        }
    }

    /// <summary>The most one populating call maps. A call holds the process's memory map (<c>mmap_lock</c>) while it
    /// fills pages, and every other thread's mmap, brk or mprotect waits for it: 86 MB in one call held the main
    /// thread's allocations for ~100 ms while a model loaded. Between 2 MB calls they get through.</summary>
    private const long PopulateChunk = 2L << 20;

    private static void Advise(void* p, long bytes, int advice)
    {
        if (unavailable || bytes < 16 * PageSize) return; // small ranges: a few faults cost less than the call
        long start = ((long)p + PageSize - 1) & ~(PageSize - 1), end = ((long)p + bytes) & ~(PageSize - 1);
        if (end <= start) return;
        try
        {
            // EINVAL on kernels before 5.14: the faults happen as before.
            if (advice == HugePage) _ = madvise((void*)start, (nuint)(end - start), advice);
            else
                for (long at = start; at < end; at += PopulateChunk)
                    if (madvise((void*)at, (nuint)Math.Min(PopulateChunk, end - at), advice) != 0) break;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            unavailable = true;
        }
    }
}

using TorchSharp;

namespace TransformerEmbeddings.Runtime;

/// <summary>
/// How many threads the compute started from the current thread may use: libtorch's operators and the library's own
/// kernels (which ask <c>torch.get_num_threads()</c>) both follow the calling thread's OpenMP setting, which belongs
/// to that thread alone. Limiting one thread lets several forward passes run side by side, one per core, without
/// their parallel regions competing for the same cores.
/// </summary>
internal static unsafe class ComputeThreads
{
    private static readonly delegate* unmanaged<int, void> SetOpenMpThreads = Resolve();

    private static delegate* unmanaged<int, void> Resolve()
    {
        // libtorch's OpenMP runtime keeps the thread count per thread (an ICV of the thread's implicit task); other
        // threading back-ends (a native pool) or a libtorch this process did not load itself leave it unsupported.
        if (!NativeRuntime.TryGetExport("omp_set_num_threads", out var address)) return null;
        var set = (delegate* unmanaged<int, void>)address;
        // Checked once, on a thread of its own so that no caller keeps the test setting.
        var works = false;
        var probe = new Thread(() =>
        {
            var before = torch.get_num_threads(); // libtorch sets a thread's count on its first use: let it happen first
            set(1);
            works = torch.get_num_threads() == 1;
            set(before);
        }) { IsBackground = true, Name = "TransformerEmbeddings thread-limit probe" };
        probe.Start();
        probe.Join();
        return works ? set : null;
    }

    /// <summary>Whether one thread's compute can be limited in this process.</summary>
    public static bool CanLimit => SetOpenMpThreads is not null;

    /// <summary>Limits the compute started from this thread to <paramref name="threads"/> until the result is disposed.</summary>
    /// <exception cref="PlatformNotSupportedException">Not <see cref="CanLimit"/>.</exception>
    public static Scope Limit(int threads)
    {
        if (!CanLimit) throw new PlatformNotSupportedException("This libtorch's threads cannot be limited per thread.");
        var before = torch.get_num_threads();
        SetOpenMpThreads(Math.Max(1, threads));
        return new Scope(before);
    }

    /// <summary>A limit in force on the thread that made it; dispose it on that thread.</summary>
    public readonly struct Scope(int before) : IDisposable
    {
        public void Dispose()
        {
            if (before > 0) SetOpenMpThreads(before);
        }
    }
}

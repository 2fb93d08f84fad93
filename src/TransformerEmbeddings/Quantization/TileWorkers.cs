namespace TransformerEmbeddings.Quantization;

/// <summary>
/// A tiny allocation-free parallel-for for the quantised kernels: <c>ProcessorCount − 1</c> background threads, started
/// on first use, plus the caller. Work items are claimed with an interlocked counter. One job runs at a time; a caller
/// that finds the workers busy runs its job alone on its own thread.
/// </summary>
internal static unsafe class TileWorkers
{
    private static readonly object Gate = new();
    private static readonly SemaphoreSlim Wake = new(0);
    private static readonly ManualResetEventSlim Done = new(false);
    private static Thread[]? workers;

    private static delegate*<void*, int, void> body;
    private static void* state;
    private static int count;
    private static int next;
    private static int active;

    /// <summary>The most threads a job may use (the caller included).</summary>
    public static int MaxThreads => Environment.ProcessorCount;

    /// <summary>Runs <c>work(context, i)</c> for every i in [0, <paramref name="items"/>) on up to <paramref name="threads"/> threads.</summary>
    /// <param name="items">The number of work items.</param>
    /// <param name="threads">The most threads to use, the caller included (clamped to [1, <see cref="MaxThreads"/>]).</param>
    /// <param name="context">Passed to every call; must stay valid until this returns.</param>
    /// <param name="work">A static function.</param>
    public static void For(int items, int threads, void* context, delegate*<void*, int, void> work)
    {
        threads = Math.Clamp(Math.Min(threads, items), 1, MaxThreads);
        if (threads == 1 || !Monitor.TryEnter(Gate))
        {
            for (int i = 0; i < items; i++) work(context, i);
            return;
        }
        try
        {
            EnsureStarted();
            body = work;
            state = context;
            count = items;
            next = 0;
            Done.Reset();
            Volatile.Write(ref active, threads);
            Wake.Release(threads - 1);
            Drain();
            Done.Wait();
            body = null;
            state = null;
        }
        finally
        {
            Monitor.Exit(Gate);
        }
    }

    private static void Drain()
    {
        int i;
        while ((i = Interlocked.Increment(ref next) - 1) < count) body(state, i);
        if (Interlocked.Decrement(ref active) == 0) Done.Set();
    }

    private static void EnsureStarted()
    {
        if (workers is not null) return;
        var started = new Thread[MaxThreads - 1];
        for (int t = 0; t < started.Length; t++)
        {
            started[t] = new Thread(Loop) { IsBackground = true, Name = $"TransformerEmbeddings int8 worker {t}" };
            started[t].Start();
        }
        workers = started;
    }

    private static void Loop()
    {
        while (true)
        {
            Wake.Wait();
            Drain();
        }
    }
}

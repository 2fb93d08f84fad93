using System.Diagnostics;

namespace TransformerEmbeddings.Kernels;

/// <summary>
/// A tiny parallel-for for the CPU kernels: <c>ProcessorCount − 1</c> background threads, started on first use, plus
/// the caller. Work items are claimed with an interlocked counter and the caller claims too, so a worker that the
/// scheduler wakes late (a busy machine, other thread pools spinning) only helps and is never waited for: the caller
/// waits just for items already claimed. Concurrent callers each run their own job; workers help the latest one.
/// </summary>
internal static unsafe class TileWorkers
{
    private static readonly object StartGate = new();
    private static readonly SemaphoreSlim Wake = new(0);
    private static Thread[]? workers;
    private static Job? current;
    private static int generation; // bumped on every published job, so a spinning worker sees new work without a wake-up
    [ThreadStatic] private static Job?[]? cachedJobs;

    /// <summary>The most threads a job may use (the caller included).</summary>
    public static int MaxThreads => Environment.ProcessorCount;

    private sealed class Job
    {
        public delegate*<void*, int, void> Body;
        public void* State;
        public int Count;
        public int Next;
        public int Completed;
        public int Helpers; // workers inside Drain (or about to enter): the job may not be reused while > 0

        /// <summary>Claims and runs items until none are left.</summary>
        public void Drain()
        {
            int i;
            while ((i = Interlocked.Increment(ref Next) - 1) < Count)
            {
                Body(State, i);
                Interlocked.Increment(ref Completed);
            }
        }
    }

    /// <summary>Runs <c>work(context, i)</c> for every i in [0, <paramref name="items"/>) on up to <paramref name="threads"/> threads.</summary>
    /// <param name="items">The number of work items.</param>
    /// <param name="threads">The most threads to use, the caller included (clamped to [1, <see cref="MaxThreads"/>]).</param>
    /// <param name="context">Passed to every call; must stay valid until this returns.</param>
    /// <param name="work">A static function.</param>
    public static void For(int items, int threads, void* context, delegate*<void*, int, void> work)
    {
        threads = Math.Clamp(Math.Min(threads, items), 1, MaxThreads);
        if (threads == 1)
        {
            for (int i = 0; i < items; i++) work(context, i);
            return;
        }
        EnsureStarted();
        var job = RentJob();
        job.Body = work;
        job.State = context;
        job.Count = items;
        job.Next = 0;
        job.Completed = 0;
        Volatile.Write(ref current, job);
        Interlocked.Increment(ref generation);
        Wake.Release(threads - 1);
        job.Drain();
        // Every item is claimed; wait only for the ones other threads are still running (a few microseconds each).
        var spin = new SpinWait();
        while (Volatile.Read(ref job.Completed) < items) spin.SpinOnce(sleep1Threshold: -1);
        Interlocked.CompareExchange(ref current, null, job);
    }

    /// <summary>One of this thread's few job objects that no late worker still holds (no allocation per call).</summary>
    private static Job RentJob()
    {
        var jobs = cachedJobs ??= new Job?[4];
        for (int i = 0; i < jobs.Length; i++)
        {
            jobs[i] ??= new Job();
            if (Volatile.Read(ref jobs[i]!.Helpers) == 0) return jobs[i]!;
        }
        return jobs[0] = new Job(); // every one held by a descheduled worker: leave them to it
    }

    private static void EnsureStarted()
    {
        if (Volatile.Read(ref workers) is not null) return;
        lock (StartGate)
        {
            if (workers is not null) return;
            var started = new Thread[MaxThreads - 1];
            for (int t = 0; t < started.Length; t++)
            {
                started[t] = new Thread(Loop) { IsBackground = true, Name = $"TransformerEmbeddings kernel worker {t}" };
                started[t].Start();
            }
            Volatile.Write(ref workers, started);
        }
    }

    private static void Loop()
    {
        while (true)
        {
            Wake.Wait();
            // A model's kernels come tens of microseconds apart (a LayerNorm, an add): stay awake that long after each
            // job instead of paying a futex wake-up per layer, then block again so an idle process uses no CPU.
            var seen = Volatile.Read(ref generation);
            Help();
            long deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10_000 * SpinMicroseconds / 100;
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var now = Volatile.Read(ref generation);
                if (now != seen)
                {
                    seen = now;
                    Help();
                    deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10_000 * SpinMicroseconds / 100;
                }
                else Thread.SpinWait(20);
            }
        }
    }

    /// <summary>How long an idle worker keeps looking for the next job before it blocks.</summary>
    private const int SpinMicroseconds = 200;

    private static void Help()
    {
        // A late wake-up finds its job finished (nothing left to claim) or a newer one to help. Announce first, then
        // check the job is still the current one, so its owner never refills it under us.
        var job = Volatile.Read(ref current);
        if (job is null) return;
        Interlocked.Increment(ref job.Helpers);
        if (ReferenceEquals(Volatile.Read(ref current), job)) job.Drain();
        Interlocked.Decrement(ref job.Helpers);
    }
}

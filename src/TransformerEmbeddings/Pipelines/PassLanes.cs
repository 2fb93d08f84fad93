using System.Collections.Concurrent;

namespace TransformerEmbeddings.Pipelines;

/// <summary>
/// The background threads that run forward passes beside the caller's (<see cref="PassSchedule{T}"/>), each pass with
/// its share of the cores. One pass split over every core waits at each of its kernels' barriers and leaves the other
/// cores idle while it runs its serial parts (inputs, small libtorch operators, pooling); one pass per core has neither.
/// The threads start on first use and stay for the process.
/// </summary>
internal static class PassLanes
{
    private static readonly BlockingCollection<Action> Queue = [];
    private static readonly object StartGate = new();
    private static int started;

    /// <summary>Passes side by side by default: one per thread on CPUs with 2–4 threads; with more, two passes would share
    /// the kernels' worker threads (correct, not measured yet), so one pass keeps them all.</summary>
    public static int DefaultLanes(int threads) => threads is >= 2 and <= 4 ? threads : 1;

    /// <summary>Runs <paramref name="work"/> on a lane thread (it must catch its own exceptions).</summary>
    /// <param name="work">The work.</param>
    /// <param name="lanes">Lane threads wanted at least (more posts than lanes wait for a free one).</param>
    public static void Post(Action work, int lanes)
    {
        EnsureThreads(lanes);
        Queue.Add(work);
    }

    private static void EnsureThreads(int wanted)
    {
        if (Volatile.Read(ref started) >= wanted) return;
        lock (StartGate)
        {
            for (; started < wanted; started++)
                new Thread(Serve) { IsBackground = true, Name = $"TransformerEmbeddings pass lane {started + 1}" }.Start();
        }
    }

    private static void Serve()
    {
        foreach (var work in Queue.GetConsumingEnumerable()) work();
    }
}

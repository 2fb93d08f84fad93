using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using TransformerEmbeddings.Runtime;

namespace TransformerEmbeddings.Pipelines;

/// <summary>
/// Runs forward passes side by side, each on its own thread with its share of the cores (<see cref="ComputeThreads"/>):
/// the caller runs the first, background threads the others. One pass split over every core waits at each of its
/// kernels' barriers and leaves the other cores idle while it runs its serial parts (inputs, small libtorch operators,
/// pooling); one pass per core has neither. Background threads start on first use and stay for the process.
/// </summary>
internal static class PassLanes
{
    private static readonly BlockingCollection<Action> Queue = [];
    private static readonly object StartGate = new();
    private static int started;

    /// <summary>Passes side by side by default: one per thread on CPUs with 2–4 threads; with more, two passes would share
    /// the kernels' worker threads (correct, not measured yet), so one pass keeps them all.</summary>
    public static int DefaultLanes(int threads) => threads is >= 2 and <= 4 ? threads : 1;

    /// <summary>Runs <c>pass(i)</c> for i in [0, <paramref name="count"/>), each limited to <paramref name="threadsEach"/> threads.</summary>
    /// <exception cref="Exception">The first failing pass's exception (by index), once every pass has ended.</exception>
    public static void Run(int count, int threadsEach, Action<int> pass)
    {
        var errors = new ExceptionDispatchInfo?[count];
        if (count > 1) EnsureThreads(count - 1);
        using var done = new CountdownEvent(count - 1);
        for (var i = 1; i < count; i++)
        {
            var index = i;
            Queue.Add(() =>
            {
                try
                {
                    using var _ = ComputeThreads.Limit(threadsEach);
                    pass(index);
                }
                catch (Exception e)
                {
                    errors[index] = ExceptionDispatchInfo.Capture(e);
                }
                finally
                {
                    done.Signal();
                }
            });
        }
        try
        {
            using var _ = ComputeThreads.Limit(threadsEach);
            pass(0);
        }
        catch (Exception e)
        {
            errors[0] = ExceptionDispatchInfo.Capture(e);
        }
        done.Wait();
        foreach (var error in errors) error?.Throw();
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

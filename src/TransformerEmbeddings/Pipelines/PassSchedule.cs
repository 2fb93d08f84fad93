using System.Runtime.ExceptionServices;
using TransformerEmbeddings.Runtime;

namespace TransformerEmbeddings.Pipelines;

/// <summary>
/// Runs a window's forward passes (items 0 … n−1) on the stepping thread and on background lanes (<see cref="PassLanes"/>)
/// and hands their results out in item order. A lane claims the next item as soon as it finishes one, up to
/// <see cref="Ahead"/> items past those handed out, so it keeps computing while the stepping thread hands out results,
/// writes them or waits for the caller. Passes run in pairs with a barrier after each pair left one core idle for the
/// difference of the pair's times and for everything the stepping thread did between pairs: 15–25 % of the lane's time
/// on STS dev. Each item runs exactly as it would alone, so results are the same bits whichever thread ran it.
/// </summary>
/// <typeparam name="T">A pass's result.</typeparam>
internal sealed class PassSchedule<T> where T : class
{
    private readonly object gate = new();
    private readonly int count, lanes, threadsEach;
    private readonly Func<int, bool> needed;
    private readonly Func<int, T> compute;
    private readonly CancellationToken cancellation;
    private readonly T?[] results;
    private readonly ExceptionDispatchInfo?[] failures;
    private readonly bool[] done;
    private int nextClaim, nextOut, running;
    private bool stopped;

    /// <param name="count">Items.</param>
    /// <param name="lanes">Passes at a time, the stepping thread's included (1: all on the stepping thread).</param>
    /// <param name="threadsEach">Compute threads per pass when <paramref name="lanes"/> &gt; 1.</param>
    /// <param name="needed">Whether an item must run at all (false: done by an earlier run; it is skipped).</param>
    /// <param name="compute">Runs one item; called on any lane, must touch no shared state.</param>
    /// <param name="cancellation">No item starts after it is cancelled.</param>
    public PassSchedule(int count, int lanes, int threadsEach, Func<int, bool> needed, Func<int, T> compute, CancellationToken cancellation)
    {
        this.count = count;
        this.lanes = Math.Max(1, lanes);
        this.threadsEach = threadsEach;
        this.needed = needed;
        this.compute = compute;
        this.cancellation = cancellation;
        results = new T?[count];
        failures = new ExceptionDispatchInfo?[count];
        done = new bool[count];
    }

    /// <summary>How far past the last item handed out a background lane may run.</summary>
    public int Ahead => 2 * lanes;

    /// <summary>
    /// Runs an item on this thread if one is left and hands out every finished item that follows the ones handed out
    /// before (waiting for the next one when this thread had nothing to run). False when every item was handed out.
    /// </summary>
    /// <param name="finished">Filled with (item, result) in item order.</param>
    /// <exception cref="OperationCanceledException">Cancelled; the lanes have stopped.</exception>
    /// <exception cref="Exception">The next item's pass failed: thrown once every running pass has ended.</exception>
    public bool Step(List<(int Item, T Result)> finished)
    {
        finished.Clear();
        try
        {
            cancellation.ThrowIfCancellationRequested();
            StartLanes();
            var mine = Claim(lane: false);
            if (mine >= 0)
            {
                if (lanes > 1)
                {
                    using var _ = ComputeThreads.Limit(threadsEach);
                    Run(mine);
                }
                else Run(mine);
            }
            lock (gate)
            {
                while (true)
                {
                    while (nextOut < count && done[nextOut] && failures[nextOut] is null)
                    {
                        if (results[nextOut] is { } result) finished.Add((nextOut, result));
                        results[nextOut++] = null;
                    }
                    if (finished.Count > 0) return true;
                    if (nextOut == count) return false;
                    if (failures[nextOut] is { } failure)
                    {
                        StopLocked();
                        failure.Throw();
                    }
                    if (mine >= 0) return true; // ahead of a lane: claim the next item rather than wait
                    if (nextOut >= nextClaim)
                    {
                        // Nobody runs it: only a cancellation or a stop leaves an item unclaimed.
                        cancellation.ThrowIfCancellationRequested();
                        throw new InvalidOperationException("The passes were stopped.");
                    }
                    Monitor.Wait(gate);
                }
            }
        }
        catch
        {
            Stop();
            throw;
        }
    }

    /// <summary>Lets no further item start and waits for the running ones (a caller that stops early, or an error).</summary>
    public void Stop()
    {
        lock (gate) StopLocked();
    }

    private void StopLocked()
    {
        stopped = true;
        while (running > 0) Monitor.Wait(gate);
    }

    private void StartLanes()
    {
        lock (gate)
        {
            while (running < lanes - 1 && !stopped && nextClaim < count && nextClaim < nextOut + Ahead)
            {
                running++;
                PassLanes.Post(Lane, lanes - 1);
            }
        }
    }

    private void Lane()
    {
        try
        {
            using var _ = ComputeThreads.Limit(threadsEach);
            int item;
            while ((item = Claim(lane: true)) >= 0) Run(item);
        }
        catch (PlatformNotSupportedException)
        {
            // The thread limit (Run catches the passes' own errors): the stepping thread runs the items instead.
        }
        finally
        {
            lock (gate)
            {
                running--;
                Monitor.PulseAll(gate);
            }
        }
    }

    /// <summary>The next item to run, or −1: none left, stopped, cancelled, or (a lane) too far ahead.</summary>
    private int Claim(bool lane)
    {
        lock (gate)
        {
            var skipped = false;
            while (nextClaim < count && !needed(nextClaim))
            {
                done[nextClaim++] = true;
                skipped = true;
            }
            if (skipped) Monitor.PulseAll(gate);
            if (stopped || nextClaim == count || cancellation.IsCancellationRequested) return -1;
            if (lane && nextClaim >= nextOut + Ahead) return -1;
            return nextClaim++;
        }
    }

    private void Run(int item)
    {
        T? result = null;
        ExceptionDispatchInfo? failure = null;
        try
        {
            result = compute(item);
        }
        catch (Exception e)
        {
            failure = ExceptionDispatchInfo.Capture(e);
        }
        lock (gate)
        {
            results[item] = result;
            failures[item] = failure;
            done[item] = true;
            if (failure is not null) stopped = true; // no new item starts; the ones before it still finish
            Monitor.PulseAll(gate);
        }
    }
}

namespace TransformerEmbeddings.Runtime;

/// <summary>
/// The calls in flight on an object that owns native memory (a model's weights, an embedder's Dense modules), so that
/// <c>Dispose</c> never frees tensors a forward pass is reading: a call enters before it touches native memory and
/// leaves when done; <see cref="Close"/> refuses new calls (<see cref="ObjectDisposedException"/>), waits for those in
/// flight, then releases. Disposing from inside a call of the same object (a progress callback, a pooling function) cannot
/// wait for itself: the release then happens when that call leaves.
/// </summary>
internal sealed class CallGuard(object owner)
{
    // The guards whose calls this thread is inside (a handful at most: an embedder's pass inside a model's).
    [ThreadStatic] private static List<CallGuard>? held;

    private readonly object gate = new();
    private int active;
    private bool closed;
    private Action? deferred;

    /// <summary>Whether <see cref="Close"/> has been called.</summary>
    public bool IsClosed => Volatile.Read(ref closed);

    /// <summary>Enters a call; dispose the result when the call is done.</summary>
    /// <exception cref="ObjectDisposedException">The owner is disposed or being disposed.</exception>
    public Lease Enter()
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(closed, owner);
            active++;
        }
        (held ??= []).Add(this);
        return new Lease(this);
    }

    /// <summary>
    /// Refuses new calls, waits for the calls in flight and runs <paramref name="release"/> once (later, when the last call
    /// leaves, if this thread is itself inside one). Later calls do nothing.
    /// </summary>
    public void Close(Action release)
    {
        lock (gate)
        {
            if (closed) return;
            closed = true;
            if (active > 0 && held is { } mine && mine.Contains(this))
            {
                deferred = release;
                return;
            }
            while (active > 0) Monitor.Wait(gate);
        }
        release();
    }

    private void Leave()
    {
        held!.Remove(this);
        Action? release = null;
        lock (gate)
        {
            if (--active > 0) return;
            Monitor.PulseAll(gate);
            (release, deferred) = (deferred, null);
        }
        release?.Invoke();
    }

    /// <summary>One call in flight.</summary>
    public readonly struct Lease(CallGuard guard) : IDisposable
    {
        public void Dispose() => guard?.Leave();
    }
}

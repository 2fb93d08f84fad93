using TransformerEmbeddings.Runtime;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Analysis;

/// <summary>
/// Nearest candidates to G targets (one per group, e.g. per head) over candidates that arrive in chunks, so memory stays
/// one chunk however large the vocabulary: each chunk's distances are merged into each group's running top k, and the
/// candidates strictly nearer than the query's own one are counted. The chunk holding the query's own candidate runs
/// first, so its distance is known before any comparison and comes from the same arithmetic as every other.
/// </summary>
internal static class StreamingNearest
{
    /// <summary>The k nearest per group and metric.</summary>
    /// <param name="Ids">[group][rank] candidate indices.</param>
    /// <param name="Distances">[group][rank], ascending.</param>
    /// <param name="SelfRanks">[group] how many candidates are strictly nearer than the self, or null without one.</param>
    public sealed record Result(long[][] Ids, double[][] Distances, int?[] SelfRanks);

    /// <summary>Runs the search.</summary>
    /// <param name="targets">(G, D) float64.</param>
    /// <param name="count">The number of candidates.</param>
    /// <param name="chunk">Candidates per chunk.</param>
    /// <param name="candidates">(start, n) → (n, G, D) float64, disposed here.</param>
    /// <param name="self">The query's own candidate index, or null.</param>
    /// <param name="k">How many to keep (at most <paramref name="count"/>).</param>
    /// <param name="metrics">Which metrics.</param>
    /// <returns>Cosine and Euclidean results (null for a metric not asked for).</returns>
    public static (Result? Cosine, Result? Euclidean) Run(Tensor targets, long count, long chunk, Func<long, long, Tensor> candidates,
        long? self, int k, DistanceMetric metrics)
    {
        if (count == 0) throw new ArgumentException("There are no candidates to search.", nameof(count));
        k = (int)Math.Min(k, count);
        var states = new List<State>();
        if (metrics.HasFlag(DistanceMetric.Cosine)) states.Add(new State(DistanceMetric.Cosine));
        if (metrics.HasFlag(DistanceMetric.Euclidean)) states.Add(new State(DistanceMetric.Euclidean));
        try
        {
            using var targetSquares = targets.pow(Scalars.Two).sum(-1);          // (G)
            using var norms = targetSquares.sqrt();
            var starts = new List<long>();
            for (long s = 0; s < count; s += chunk) starts.Add(s);
            if (self is { } own)
            {
                var first = own / chunk * chunk;
                starts.Remove(first);
                starts.Insert(0, first);
            }
            foreach (var start in starts)
            {
                using var scope = NewDisposeScope();
                var n = Math.Min(chunk, count - start);
                var c = candidates(start, n);                                   // (n, G, D)
                var ids = Scalars.Arange(start, start + n, ScalarType.Int64);    // (n)
                // One pass over the chunk for both metrics: c·t and |c|² per head; |c − t|² = |c|² − 2c·t + |t|² (float64).
                var dot = einsum("ngd,gd->ng", c, targets);                     // (n, G)
                var squares = c.pow(Scalars.Two).sum(-1);                        // (n, G)
                foreach (var state in states)
                {
                    var d = state.Metric == DistanceMetric.Cosine
                        ? Scalars.OneMinus(dot / (squares.sqrt() * norms))        // (n, G)
                        : (squares - dot.mul(Scalars.Two)).add(targetSquares, Scalars.One).clamp_min(Scalars.Zero).sqrt();
                    if (self is { } s && start <= s && s < start + n && state.Self is null)
                        state.Self = d[s - start].clone().DetachFromDisposeScope(); // (G)
                    if (state.Self is not null)
                    {
                        var nearer = (d < state.Self).to(ScalarType.Int64).sum(0L);    // (G); sum(0) would be sum(ScalarType.Byte)
                        state.Below = Keep(state.Below is null ? nearer : state.Below.add(nearer, Scalars.One), state.Below);
                    }
                    var allD = state.Best is null ? d : cat([state.Best, d], 0);
                    var allI = state.BestIds is null ? ids.unsqueeze(1).expand(d.shape) : cat([state.BestIds, ids.unsqueeze(1).expand(d.shape)], 0);
                    var (values, order) = allD.topk((int)Math.Min(k, allD.shape[0]), dim: 0, largest: false, sorted: true);
                    var chosen = allI.gather(0, order);
                    state.Best = Keep(values, state.Best);
                    state.BestIds = Keep(chosen, state.BestIds);
                }
            }
            Result? cosine = null, euclidean = null;
            foreach (var state in states)
            {
                var result = state.ToResult();
                if (state.Metric == DistanceMetric.Cosine) cosine = result;
                else euclidean = result;
            }
            return (cosine, euclidean);
        }
        finally
        {
            foreach (var s in states) s.Dispose();
        }
    }

    /// <summary>Keeps <paramref name="next"/> beyond the chunk's scope and releases the tensor it replaces.</summary>
    private static Tensor Keep(Tensor next, Tensor? previous)
    {
        var kept = next.DetachFromDisposeScope();
        previous?.Dispose();
        return kept;
    }

    private sealed class State(DistanceMetric metric) : IDisposable
    {
        public DistanceMetric Metric { get; } = metric;
        public Tensor? Best;      // (k', G)
        public Tensor? BestIds;   // (k', G)
        public Tensor? Self;      // (G)
        public Tensor? Below;     // (G)

        public Result ToResult()
        {
            var (k, g) = ((int)Best!.shape[0], (int)Best.shape[1]);
            var d = Best.t().contiguous().data<double>().ToArray();
            var ids = BestIds!.t().contiguous().data<long>().ToArray();
            var below = Below?.data<long>().ToArray();
            var distances = new double[g][];
            var idRows = new long[g][];
            var ranks = new int?[g];
            for (var i = 0; i < g; i++)
            {
                distances[i] = d.AsSpan(i * k, k).ToArray();
                idRows[i] = ids.AsSpan(i * k, k).ToArray();
                ranks[i] = below is null ? null : (int)below[i];
            }
            return new Result(idRows, distances, ranks);
        }

        public void Dispose()
        {
            Best?.Dispose();
            BestIds?.Dispose();
            Self?.Dispose();
            Below?.Dispose();
        }
    }
}

using TransformerEmbeddings.Pipelines;
using TransformerEmbeddings.Runtime;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Pipelines;

/// <summary>Forward passes side by side (<see cref="BatchOptions.ParallelPasses"/>): the same bits, order and counts as one pass at a time.</summary>
public sealed class ParallelPassesTests
{
    public static TheoryData<Precision> Precisions => [Precision.Float32, Precision.Fast];

    [Theory]
    [MemberData(nameof(Precisions))]
    public void Passes_side_by_side_give_the_bits_of_one_pass_at_a_time(Precision precision)
    {
        using var embedder = SentenceEmbedder.Load(SharedData.Model("all-MiniLM-L6-v2"), new ModelOptions { Precision = precision });
        var texts = StreamingTests.ShuffledLengths(90, seed: 3);
        var batching = new BatchOptions { MaxTextsPerBatch = 7, SortWindow = 40 };
        var one = embedder.Embed(texts, new EmbeddingOptions { Batching = batching with { ParallelPasses = 1 } });
        foreach (var passes in new int?[] { null, 2, 3 })
        {
            var reports = new List<EmbeddingProgress>();
            var options = new EmbeddingOptions { Batching = batching with { ParallelPasses = passes } };
            var streamed = embedder.EmbedStream(texts, options, new StreamingTests.Inline(reports.Add)).ToList();
            Assert.Equal(Enumerable.Range(0, texts.Count).Select(i => (long)i), streamed.Select(r => r.Index));
            for (var i = 0; i < texts.Count; i++) Assert.Equal(one.RowArray(i), streamed[i].Values);
            Assert.Equal(texts.Count, reports[^1].Texts);
            Assert.Equal(streamed.Sum(r => (long)r.TokenCount), reports[^1].Tokens);
            Assert.Equal(one.RowArray(5), embedder.Embed(texts, options).RowArray(5));
        }
    }

    [Fact]
    public void Token_vectors_and_sliding_windows_are_the_same_side_by_side()
    {
        using var embedder = SentenceEmbedder.Load(SharedData.Model("bert-tiny-uncased"), new ModelOptions { MaxLength = 16 });
        var texts = StreamingTests.ShuffledLengths(40, seed: 9);
        foreach (var options in new[]
        {
            new EmbeddingOptions { Output = EmbeddingOutput.TokenVectors },
            new EmbeddingOptions { LongTexts = LongTextHandling.SlidingWindow, WindowOverlap = 4 },
        })
        {
            var one = embedder.EmbedStream(texts, options with { Batching = new BatchOptions { MaxTextsPerBatch = 3, ParallelPasses = 1 } }).ToList();
            var three = embedder.EmbedStream(texts, options with { Batching = new BatchOptions { MaxTextsPerBatch = 3, ParallelPasses = 3 } }).ToList();
            Assert.Equal(one.Count, three.Count);
            for (var i = 0; i < one.Count; i++)
            {
                Assert.Equal(one[i].Rows, three[i].Rows);
                Assert.Equal(one[i].Windows, three[i].Windows);
                Assert.Equal(one[i].Values, three[i].Values);
            }
        }
    }

    [Fact]
    public void Zero_passes_are_refused()
    {
        using var embedder = SentenceEmbedder.Create(ModelCache.Get("bert-tiny-uncased"));
        Assert.Throws<ArgumentOutOfRangeException>(() => embedder.Embed(["a"], new EmbeddingOptions { Batching = new BatchOptions { ParallelPasses = 0 } }));
    }

    /// <summary>Steps a schedule to the end (or its exception), collecting the items in the order handed out.</summary>
    private static List<int> StepAll<T>(PassSchedule<T> schedule, List<int> order) where T : class
    {
        var finished = new List<(int Item, T Result)>();
        while (schedule.Step(finished)) order.AddRange(finished.Select(f => f.Item));
        return order;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void A_schedule_hands_handedOutevery_needed_item_once_in_order_whichever_lane_ran_it(int lanes)
    {
        var runs = new int[40];
        var rng = new Random(lanes);
        var delays = Enumerable.Range(0, 40).Select(_ => rng.Next(0, 4)).ToArray();
        var schedule = new PassSchedule<string>(40, lanes, 1, i => i % 7 != 3, i =>
        {
            Interlocked.Increment(ref runs[i]);
            Thread.Sleep(delays[i]);
            return $"r{i}";
        }, CancellationToken.None);
        var order = StepAll(schedule, []);
        var expected = Enumerable.Range(0, 40).Where(i => i % 7 != 3).ToList();
        Assert.Equal(expected, order);
        Assert.Equal(expected.Select(_ => 1), expected.Select(i => runs[i]));
        Assert.All(Enumerable.Range(0, 40).Where(i => i % 7 == 3), i => Assert.Equal(0, runs[i]));
    }

    [Fact]
    public void Lanes_run_ahead_of_a_slow_reader_but_no_further_than_the_schedule_allows()
    {
        var started = new int[30];
        int ran = 0;
        var schedule = new PassSchedule<object>(30, 3, 1, _ => true, i =>
        {
            Volatile.Write(ref started[i], 1);
            Interlocked.Increment(ref ran);
            return new object();
        }, CancellationToken.None);
        var finished = new List<(int Item, object Result)>();
        var handedOut = 0;
        var sawAhead = false;
        while (schedule.Step(finished))
        {
            handedOut += finished.Count;
            Thread.Sleep(15); // the reader is slow: lanes keep going meanwhile, up to the limit
            var furthest = Array.FindLastIndex(started, s => Volatile.Read(ref s) == 1);
            Assert.True(furthest <= handedOut + schedule.Ahead, $"item {furthest} started with {handedOut} handed out");
            sawAhead |= furthest >= handedOut;
        }
        Assert.True(sawAhead);
        Assert.Equal(30, handedOut);
        Assert.Equal(30, ran);
    }

    [Fact]
    public void A_failing_pass_surfaces_in_order_after_the_passes_before_it_and_once_running_passes_ended()
    {
        var ended = new int[12];
        var schedule = new PassSchedule<string>(12, 3, 1, _ => true, i =>
        {
            Thread.Sleep(i == 4 ? 1 : 10);
            if (i == 4) throw new InvalidOperationException("pass 4");
            Interlocked.Increment(ref ended[i]);
            return $"r{i}";
        }, CancellationToken.None);
        var order = new List<int>();
        var error = Assert.Throws<InvalidOperationException>(() => StepAll(schedule, order));
        Assert.Equal("pass 4", error.Message);
        Assert.Equal([0, 1, 2, 3], order);
        var snapshot = ended.ToArray();
        Thread.Sleep(50);
        Assert.Equal(snapshot, ended); // nothing still running after the throw
        Assert.Equal(0, ended[4]);
    }

    [Fact]
    public void A_cancelled_schedule_starts_nothing_more_and_a_stopped_one_waits_for_its_running_passes()
    {
        using var cancel = new CancellationTokenSource();
        int ran = 0;
        var schedule = new PassSchedule<object>(100, 2, 1, _ => true, i =>
        {
            if (Interlocked.Increment(ref ran) == 3) cancel.Cancel();
            Thread.Sleep(5);
            return new object();
        }, cancel.Token);
        Assert.ThrowsAny<OperationCanceledException>(() => StepAll(schedule, []));
        var after = Volatile.Read(ref ran);
        Thread.Sleep(50);
        Assert.Equal(after, Volatile.Read(ref ran));
        Assert.True(after < 100);

        var running = 0;
        var stopped = new PassSchedule<object>(50, 3, 1, _ => true, _ =>
        {
            Interlocked.Increment(ref running);
            Thread.Sleep(30);
            Interlocked.Decrement(ref running);
            return new object();
        }, CancellationToken.None);
        Assert.True(stopped.Step([]));
        stopped.Stop();
        Assert.Equal(0, Volatile.Read(ref running));
        Assert.Throws<InvalidOperationException>(() => StepAll(stopped, []));
    }

    [Fact]
    public void A_thread_limit_holds_for_its_thread_only_and_ends_with_its_scope()
    {
        NativeRuntime.EnsureLoaded();
        Assert.True(ComputeThreads.CanLimit, "libtorch's OpenMP thread count should be settable per thread on Linux x64");
        var before = get_num_threads();
        int inside = 0, after = 0, other = 0;
        var t = new Thread(() =>
        {
            var own = get_num_threads();
            using (ComputeThreads.Limit(1))
            {
                inside = get_num_threads();
                var peer = new Thread(() => other = get_num_threads());
                peer.Start();
                peer.Join();
            }
            after = get_num_threads() == own ? 1 : 0;
        });
        t.Start();
        t.Join();
        Assert.Equal(1, inside);
        Assert.Equal(1, after);
        Assert.Equal(before, other);
        Assert.Equal(before, get_num_threads());
    }
}

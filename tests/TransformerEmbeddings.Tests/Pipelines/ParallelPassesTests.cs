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

    [Fact]
    public void A_failing_pass_surfaces_after_every_pass_has_ended()
    {
        var ran = new int[3];
        var error = Assert.Throws<InvalidOperationException>(() => PassLanes.Run(3, 1, i =>
        {
            Thread.Sleep(20 * (2 - i));
            Interlocked.Increment(ref ran[i]);
            if (i == 1) throw new InvalidOperationException("pass 1");
        }));
        Assert.Equal("pass 1", error.Message);
        Assert.Equal([1, 1, 1], ran);
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

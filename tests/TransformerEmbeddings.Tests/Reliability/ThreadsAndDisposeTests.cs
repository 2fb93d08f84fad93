using System.Collections.Concurrent;
using TransformerEmbeddings.Pipelines;
using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Reliability;

/// <summary>
/// Many threads and a Dispose in the middle (issue 26): eight threads sharing one model give the bits a sequential run
/// gives, in the exact and the fast mode; disposing a model or an embedder while calls are in flight either lets them
/// finish (Dispose waits) or makes the later ones throw <see cref="ObjectDisposedException"/> — never a native crash, never
/// a wrong vector. The minutes-long version is <c>te-reliability threads</c> (benchmarks/, docs/reliability.md).
/// </summary>
public sealed class ThreadsAndDisposeTests
{
    private static readonly string Tiny = SharedData.Model("bert-tiny-uncased");

    private static List<string[]> Chunks(int texts, int size) =>
        StsBenchmark.Dev().SelectMany(p => new[] { p.A, p.B }).Take(texts).Chunk(size).ToList();

    private static readonly EmbeddingOptions Batches = new() { Batching = new BatchOptions { MaxTextsPerBatch = 8 } };

    [Theory]
    [InlineData(Precision.Float32)]
    [InlineData(Precision.Fast)]
    public void Eight_threads_sharing_one_model_give_the_bits_of_a_sequential_run(Precision precision)
    {
        using var embedder = SentenceEmbedder.Load(Tiny, new ModelOptions { Precision = precision });
        var chunks = Chunks(384, 24);
        var sequential = chunks.Select(c => embedder.Embed(c, Batches).Values.ToArray()).ToList();

        var calls = 0;
        var mismatches = new ConcurrentBag<string>();
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, thread =>
        {
            // Each thread walks the chunks in its own order, three times: the same calls, interleaved differently each run.
            for (var round = 0; round < 3; round++)
                for (var k = 0; k < chunks.Count; k++)
                {
                    var c = (k * (thread + 1) + round) % chunks.Count;
                    var vectors = embedder.Embed(chunks[c], Batches).Values.ToArray();
                    Interlocked.Increment(ref calls);
                    if (!vectors.AsSpan().SequenceEqual(sequential[c])) mismatches.Add($"thread {thread}, chunk {c}");
                }
        });
        Assert.Equal(8 * 3 * chunks.Count, calls);
        Assert.Empty(mismatches);
    }

    [Fact]
    public void Disposing_a_model_while_eight_threads_encode_lets_calls_finish_or_throw_ObjectDisposedException()
    {
        var model = TransformerModel.Load(Tiny);
        var embedder = SentenceEmbedder.Create(model);
        var chunks = Chunks(96, 12);
        var expected = chunks.Select(c => embedder.Embed(c, Batches).Values.ToArray()).ToList();
        var vocabulary = model.Vocabulary.Vectors([101, 102]).data<float>().ToArray();

        var started = new CountdownEvent(8);
        var completed = 0;
        var refused = new ConcurrentBag<string>();
        var wrong = new ConcurrentBag<string>();
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            var signalled = false;
            for (var k = 0; ; k++)
            {
                try
                {
                    // Three kinds of call that read the weights: embedding, the vocabulary's rows, attention weights.
                    var c = (k + t) % chunks.Count;
                    if (t % 3 == 1)
                    {
                        using var rows = model.Vocabulary.Vectors([101, 102]);
                        if (!rows.data<float>().ToArray().SequenceEqual(vocabulary)) wrong.Add($"vocabulary, thread {t}");
                    }
                    else if (t % 3 == 2)
                    {
                        using var weights = model.Weights.Attention(-1);
                    }
                    else if (!embedder.Embed(chunks[c], Batches).Values.ToArray().AsSpan().SequenceEqual(expected[c]))
                    {
                        wrong.Add($"chunk {c}, thread {t}");
                    }
                    Interlocked.Increment(ref completed);
                }
                catch (ObjectDisposedException e)
                {
                    refused.Add(e.ObjectName);
                    return;
                }
                finally
                {
                    if (!signalled) started.Signal();
                    signalled = true;
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        Assert.True(started.Wait(TimeSpan.FromMinutes(2)), "every thread made a call");
        Thread.Sleep(200);
        model.Dispose(); // waits for the calls in flight; later calls throw
        var afterDispose = Volatile.Read(ref completed);
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromMinutes(2)), "a thread hung after Dispose");

        Assert.Empty(wrong);
        Assert.Equal(8, refused.Count);
        Assert.True(afterDispose > 0);
        Assert.True(completed - afterDispose <= 8, $"{completed - afterDispose} calls completed after Dispose returned; at most the 8 that were in flight");
        Assert.Throws<ObjectDisposedException>(() => model.Encode(["late"]));
        Assert.Throws<ObjectDisposedException>(() => embedder.Embed(["late"]));
        model.Dispose(); // twice is fine
    }

    [Fact]
    public void Disposing_an_embedder_while_it_streams_makes_the_next_pass_throw_ObjectDisposedException()
    {
        var embedder = SentenceEmbedder.Load(Tiny); // owns its model
        var texts = Chunks(64, 64)[0];
        var options = new EmbeddingOptions { Batching = new BatchOptions { MaxTextsPerBatch = 4, SortWindow = 16 } };
        var taken = new List<EmbeddedText>();
        var e = Assert.Throws<ObjectDisposedException>(() =>
        {
            foreach (var item in embedder.EmbedStream(texts, options))
            {
                taken.Add(item);
                if (taken.Count == 10) embedder.Dispose(); // between passes: the stream's next pass is refused
            }
        });
        Assert.InRange(taken.Count, 10, 16);
        Assert.Throws<ObjectDisposedException>(() => embedder.Model.Encode(["late"]));
        Assert.Contains(nameof(SentenceEmbedder), e.ObjectName);
    }

    [Fact]
    public void Disposing_an_embedder_from_inside_its_own_pass_finishes_that_pass_then_releases()
    {
        SentenceEmbedder? embedder = null;
        var calls = 0;
        embedder = SentenceEmbedder.Load(Tiny, new SentenceEmbedderOptions
        {
            // A pooling function runs inside the pass: Dispose cannot wait for its own caller, so it releases when the pass ends.
            PoolingFunction = output =>
            {
                if (Interlocked.Increment(ref calls) == 2) embedder!.Dispose();
                return output.Tokens().Mean();
            },
        });
        _ = embedder.Dimension; // the probe pass
        var first = embedder.Embed(["one", "two"]);
        Assert.Equal(2, first.Count);
        Assert.True(first.Values.ToArray().All(float.IsFinite));
        Assert.Throws<ObjectDisposedException>(() => embedder.Embed(["three"]));
        Assert.Throws<ObjectDisposedException>(() => embedder.Model.Encode(["four"]));
    }
}

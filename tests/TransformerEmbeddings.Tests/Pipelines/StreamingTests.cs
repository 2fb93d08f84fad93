using TransformerEmbeddings.Pipelines;
using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.SentenceTransformers;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Pipelines;

/// <summary>Token-budget batching, streaming, order, cancellation, resumption and per-call options of <see cref="SentenceEmbedder"/>.</summary>
public sealed class StreamingTests
{
    private static readonly EmbeddingOptions OneByOne = new() { Batching = new BatchOptions { MaxTextsPerBatch = 1, SortWindow = 1 } };

    /// <summary>Texts of shuffled lengths: 1..60 words, in a fixed random order.</summary>
    internal static List<string> ShuffledLengths(int count, int seed = 11)
    {
        var words = StsBenchmark.Dev().SelectMany(p => p.A.Split(' ')).ToArray();
        var random = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(i => string.Join(' ', Enumerable.Range(0, 1 + random.Next(60)).Select(_ => words[random.Next(words.Length)])))
            .ToList();
    }

    [Fact]
    public void Batched_vectors_equal_one_by_one_vectors_within_1e_5()
    {
        using var embedder = SentenceEmbedder.Load(SharedData.Model("all-MiniLM-L6-v2"));
        var texts = StsBenchmark.Dev().Take(40).SelectMany(p => new[] { p.A, p.B }).Concat(ShuffledLengths(20)).ToList();
        var batched = embedder.Embed(texts);
        var single = embedder.Embed(texts, OneByOne);
        Assert.Equal(texts.Count, batched.Count);
        AssertClose(single, batched, 1e-5);
    }

    [Fact]
    public void Streams_keep_input_order_with_shuffled_lengths_small_windows_and_budgets()
    {
        var model = ModelCache.Get("bert-tiny-uncased");
        using var embedder = SentenceEmbedder.Create(model);
        var texts = ShuffledLengths(150);
        var options = new EmbeddingOptions { Batching = new BatchOptions { SortWindow = 32, MaxTextsPerBatch = 5, MaxTokensPerBatch = 120 } };
        var reports = new List<EmbeddingProgress>();
        var streamed = embedder.EmbedStream(texts, options, new Inline(reports.Add)).ToList();
        Assert.Equal(Enumerable.Range(0, texts.Count).Select(i => (long)i), streamed.Select(r => r.Index));

        var single = embedder.Embed(texts, OneByOne);
        for (var i = 0; i < texts.Count; i++)
            AssertClose(single.Row(i), streamed[i].Values, 1e-5, $"text {i}");

        // Every pass within the budget (or a single text); the final report counts every text.
        Assert.True(reports.Count > texts.Count / 5);
        Assert.True(reports[^1].Completed);
        Assert.Equal(texts.Count, reports[^1].Texts);
        Assert.Equal(streamed.Sum(r => (long)r.TokenCount), reports[^1].Tokens);
        Assert.True(reports[^1].PaddedTokens >= reports[^1].Tokens);
    }

    [Fact]
    public async Task EmbedAsync_gives_what_EmbedStream_gives()
    {
        using var embedder = SentenceEmbedder.Create(ModelCache.Get("bert-tiny-uncased"));
        var texts = ShuffledLengths(70, seed: 3);
        var options = new EmbeddingOptions { Batching = new BatchOptions { SortWindow = 16, MaxTextsPerBatch = 4 } };
        var sync = embedder.EmbedStream(texts, options).ToList();
        var results = new List<EmbeddedText>();
        await foreach (var r in embedder.EmbedAsync(Produce(texts), options)) results.Add(r);
        Assert.Equal(sync.Select(r => r.Index), results.Select(r => r.Index));
        for (var i = 0; i < texts.Count; i++) Assert.Equal(sync[i].Values, results[i].Values);
    }

    private static async IAsyncEnumerable<string> Produce(IEnumerable<string> texts)
    {
        foreach (var t in texts)
        {
            await Task.Yield();
            yield return t;
        }
    }

    [Fact]
    public void Cancellation_stops_between_forward_passes()
    {
        using var embedder = SentenceEmbedder.Create(ModelCache.Get("bert-tiny-uncased"));
        var texts = ShuffledLengths(200);
        using var cancel = new CancellationTokenSource();
        var passes = 0;
        var progress = new Inline(p =>
        {
            if (p.Completed) return;
            if (++passes == 3) cancel.Cancel();
        });
        var options = new EmbeddingOptions { Batching = new BatchOptions { MaxTextsPerBatch = 4 } };
        var received = 0;
        Assert.ThrowsAny<OperationCanceledException>(() =>
        {
            foreach (var _ in embedder.EmbedStream(texts, options, progress, cancel.Token)) received++;
        });
        Assert.Equal(3, passes); // no pass ran after the cancellation
        Assert.True(received < texts.Count);
        Assert.ThrowsAny<OperationCanceledException>(() => embedder.Embed(texts, options, cancellationToken: cancel.Token));
    }

    [Fact]
    public void Skipping_texts_resumes_with_the_same_bits_and_no_earlier_results()
    {
        using var embedder = SentenceEmbedder.Create(ModelCache.Get("bert-tiny-uncased"));
        var texts = ShuffledLengths(100, seed: 5);
        var options = new EmbeddingOptions { Batching = new BatchOptions { SortWindow = 24, MaxTextsPerBatch = 6 } };
        var whole = embedder.EmbedStream(texts, options).ToList();
        foreach (var skip in new[] { 0, 1, 23, 24, 50, 99, 100 })
        {
            var reports = new List<EmbeddingProgress>();
            var rest = embedder.EmbedStream(texts, options with { SkipTexts = skip }, new Inline(reports.Add)).ToList();
            Assert.Equal(Enumerable.Range(skip, texts.Count - skip).Select(i => (long)i), rest.Select(r => r.Index));
            for (var i = 0; i < rest.Count; i++) Assert.Equal(whole[skip + i].Values, rest[i].Values);
            Assert.Equal(texts.Count - skip, reports[^1].Texts);
        }
    }

    [Fact]
    public void Per_call_options_prompt_truncate_normalize_and_token_vectors()
    {
        var model = ModelCache.Get("all-MiniLM-L6-v2");
        using var embedder = SentenceEmbedder.Load(SharedData.Model("all-MiniLM-L6-v2"));
        string[] texts = ["The quick brown fox.", "A much longer sentence about a lazy dog sleeping in the sun."];

        var full = embedder.Embed(texts);
        var cut = embedder.Embed(texts, new EmbeddingOptions { TruncateDimension = 64, Normalize = true });
        var expected = full.Truncate(64, renormalize: true);
        AssertClose(expected, cut, 1e-6);

        var prompted = embedder.Embed(texts, new EmbeddingOptions { Prompt = "query: " });
        var byHand = embedder.Embed(texts.Select(t => "query: " + t).ToList());
        AssertClose(byHand, prompted, 1e-6);

        var tokens = embedder.EmbedStream(texts, new EmbeddingOptions { Output = EmbeddingOutput.TokenVectors }).ToList();
        for (var i = 0; i < texts.Length; i++)
        {
            using var output = model.Encode([texts[i]]);
            var n = output.Tokenization![0].Count;
            Assert.Equal(n, tokens[i].Rows);
            Assert.Equal(model.HiddenSize, tokens[i].Dimension);
            for (var t = 0; t < n; t++)
                AssertClose(output.TokenVector(0, t), tokens[i].AsEmbeddings().RowArray(t), 1e-5, $"text {i} token {t}");
        }
        Assert.Throws<ArgumentException>(() => embedder.Embed(texts, new EmbeddingOptions { Output = EmbeddingOutput.TokenVectors }));
        Assert.Throws<ArgumentException>(() => embedder.Embed(texts, new EmbeddingOptions { PromptName = "nope" }));
    }

    [Fact]
    public void Long_texts_are_counted_refused_or_embedded_in_weighted_windows()
    {
        using var embedder = SentenceEmbedder.Load(SharedData.Model("bert-tiny-uncased"), new ModelOptions { MaxLength = 16 });
        Assert.Equal(16, embedder.MaxSequenceLength);
        var longText = string.Join(' ', StsBenchmark.Dev().Take(3).Select(p => p.A)); // well over 16 tokens
        string[] texts = ["short text", longText, "another short one"];

        var reports = new List<EmbeddingProgress>();
        var cut = embedder.EmbedStream(texts, progress: new Inline(reports.Add)).ToList();
        Assert.Equal(1, reports[^1].TruncatedTexts);
        Assert.Equal(0, cut[0].TruncatedTokenCount);
        Assert.True(cut[1].TruncatedTokenCount > 0);
        Assert.Equal(16, cut[1].TokenCount);

        var refused = Assert.Throws<TextTooLongException>(() => embedder.Embed(texts, new EmbeddingOptions { LongTexts = LongTextHandling.Refuse }));
        Assert.Equal(1, refused.Index);
        Assert.Equal(16, refused.Limit);
        Assert.IsAssignableFrom<TransformerEmbeddingsException>(refused);

        // Sliding windows: 14 text tokens each (16 minus [CLS] and [SEP]), overlapping by 4, averaged by text tokens.
        var options = new EmbeddingOptions { LongTexts = LongTextHandling.SlidingWindow, WindowOverlap = 4 };
        var windowed = embedder.EmbedStream(texts, options).ToList();
        var tokens = embedder.Model.Tokenizer.Encode(longText, int.MaxValue);
        var content = tokens.Ids.Skip(1).Take(tokens.Count - 2).ToArray();
        var expected = new double[embedder.Dimension];
        var expectedUnit = new double[embedder.Dimension];   // normalize_embeddings: each window's vector is unit length
        var weights = 0;
        var count = 0;
        for (var start = 0; ; start += 10)
        {
            var piece = content.Skip(start).Take(14).ToArray();
            using var inputs = EncoderInputs.Create([[tokens.Ids[0], .. piece, tokens.Ids[^1]]], embedder.Model.Tokenizer.PadTokenId);
            var v = embedder.EmbedBatch(inputs);
            var unitWindow = v.Normalize();
            for (var d = 0; d < expected.Length; d++)
            {
                expected[d] += piece.Length * v.Row(0)[d];
                expectedUnit[d] += piece.Length * unitWindow.Row(0)[d];
            }
            weights += piece.Length;
            count++;
            if (start + piece.Length >= content.Length) break;
        }
        // A plain folder's pipeline does not normalise (as SentenceTransformer(folder)); normalize_embeddings renormalises the average.
        AssertClose(expected.Select(x => (float)(x / weights)).ToArray(), windowed[1].Values, 1e-5, "windowed");
        var unit = embedder.EmbedStream(texts, options with { Normalize = true }).ToList();
        var norm = Math.Sqrt(expectedUnit.Sum(x => x * x));
        AssertClose(expectedUnit.Select(x => (float)(x / norm)).ToArray(), unit[1].Values, 1e-5, "windowed, normalised");
        Assert.Equal(count, windowed[1].Windows);
        Assert.True(count >= 3);
        AssertClose(cut[0].Values, windowed[0].Values, 1e-6, "a short text is one window");
        Assert.Throws<ArgumentOutOfRangeException>(() => embedder.Embed(texts, options with { WindowOverlap = 14 }));
    }

    [Fact]
    public void The_callers_max_length_wins_over_sentence_bert_config()
    {
        // all-MiniLM-L6-v2's sentence_bert_config.json says max_seq_length 256; sentence-transformers lets the caller override it.
        var folder = SharedData.Model("all-MiniLM-L6-v2");
        using var limited = SentenceEmbedder.Load(folder, new ModelOptions { MaxLength = 8 });
        using var standard = SentenceEmbedder.Load(folder);
        Assert.Equal(8, limited.MaxSequenceLength);
        Assert.Equal(256, standard.MaxSequenceLength);

        var text = string.Join(' ', StsBenchmark.Dev().Take(2).Select(p => p.A));
        var tokens = standard.Model.Tokenizer.Encode(text, 8);
        using var inputs = EncoderInputs.Create([tokens], standard.Model.Tokenizer.PadTokenId);
        var expected = standard.EmbedBatch(inputs);
        var actual = limited.Embed([text]);
        AssertClose(expected, actual, 1e-6);
        var full = standard.Embed([text]);
        Assert.True(full.Cosine(0, 0) > 0 && Math.Abs(full.Row(0)[0] - actual.Row(0)[0]) + Math.Abs(full.Row(0)[1] - actual.Row(0)[1]) > 1e-4,
            "the 8-token vector should differ from the 256-token one");

        Assert.Throws<ArgumentOutOfRangeException>(() => SentenceEmbedder.Load(folder, new ModelOptions { MaxLength = 100_000 }));
    }

    [Fact]
    public void Encode_refuses_one_giant_batch_and_EncodeBatches_covers_every_text_once()
    {
        var model = ModelCache.Get("bert-tiny-uncased");
        var many = Enumerable.Repeat("a sentence of a few words to pad the batch with", 20_000).ToList();
        var e = Assert.Throws<ArgumentException>(() => model.Encode(many));
        Assert.Contains("EncodeBatches", e.Message);

        var texts = ShuffledLengths(90, seed: 9);
        var seen = new HashSet<long>();
        var batching = new BatchOptions { SortWindow = 40, MaxTextsPerBatch = 8, MaxTokensPerBatch = 200 };
        foreach (var batch in model.EncodeBatches(texts, batching))
        {
            using (batch)
            {
                Assert.True(batch.Output.BatchSize == 1 || batch.Output.BatchSize * batch.Output.SequenceLength <= 200);
                for (var row = 0; row < batch.Indices.Count; row++)
                {
                    Assert.True(seen.Add(batch.Indices[row]));
                    using var alone = model.Encode([texts[(int)batch.Indices[row]]]);
                    AssertClose(alone.TokenVector(0, 0), batch.Output.TokenVector(row, 0), 1e-5, $"text {batch.Indices[row]}");
                }
            }
        }
        Assert.Equal(texts.Count, seen.Count);
    }

    internal static void AssertClose(Embeddings expected, Embeddings actual, double tolerance)
    {
        Assert.Equal(expected.Count, actual.Count);
        Assert.Equal(expected.Dimension, actual.Dimension);
        for (var i = 0; i < expected.Count; i++) AssertClose(expected.Row(i), actual.Row(i), tolerance, $"row {i}");
    }

    internal static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = 0.0;
        for (var i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        Assert.True(worst <= tolerance, $"{what}: max abs difference {worst:E2} > {tolerance:E0}");
    }

    /// <summary>Reports on the calling thread (<see cref="Progress{T}"/> would post them elsewhere).</summary>
    internal sealed class Inline(Action<EmbeddingProgress> report) : IProgress<EmbeddingProgress>
    {
        public void Report(EmbeddingProgress value) => report(value);
    }
}

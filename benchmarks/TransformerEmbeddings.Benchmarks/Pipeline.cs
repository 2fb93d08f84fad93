using System.Diagnostics;
using System.Globalization;
using TransformerEmbeddings.Pipelines;
using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.SentenceTransformers;

namespace TransformerEmbeddings.Benchmarks;

/// <summary>
/// <c>pipeline</c>: the figures of docs/performance.md's Pipelines section on all-MiniLM-L6-v2 — padding waste on the
/// STS dev sentences with fixed input-order batches of 32 and with token-budget batches; texts/s and RSS while
/// streaming N texts (the STS sentences cycled; <c>--texts N</c>, default 100,000) through <c>EmbedStream</c>; exact
/// semantic search time on a 100,000 × 384 corpus.
/// </summary>
internal static class Pipeline
{
    public static int Run(Options o)
    {
        var texts = ParseInt(o.Rest, "--texts") ?? 100_000;
        var sentences = TokenizationBenchmarks.LoadSentences();
        using var embedder = SentenceEmbedder.Load(Corpus.MiniLmFolder, o.ModelOptions());
        Console.WriteLine($"machine: {Machine.CpuModel()}; {Environment.ProcessorCount} logical CPUs; model all-MiniLM-L6-v2, {embedder.Model.ComputePath}");
        Padding(embedder, sentences);
        if (!o.Rest.Contains("--no-search")) Search();
        if (!o.Rest.Contains("--no-stream")) Stream(embedder, sentences, texts);
        return 0;
    }

    private static int? ParseInt(List<string> rest, string name)
    {
        var i = rest.IndexOf(name);
        return i >= 0 && i + 1 < rest.Count ? int.Parse(rest[i + 1], CultureInfo.InvariantCulture) : null;
    }

    /// <summary>Padded positions over all positions computed, for fixed batches of 32 in input order and for the planner.</summary>
    private static void Padding(SentenceEmbedder embedder, string[] sentences)
    {
        var lengths = embedder.Model.Tokenizer.EncodeBatch(sentences, embedder.MaxSequenceLength).Select(t => t.Count).ToArray();
        long real = lengths.Sum();
        var fixedBatches = Enumerable.Range(0, (lengths.Length + 31) / 32)
            .Select(b => Enumerable.Range(b * 32, Math.Min(32, lengths.Length - b * 32)).ToArray()).ToList();
        var fixedPadded = BatchPlanner.PaddedTokens(lengths, fixedBatches);
        var planned = new List<int[]>();
        var options = BatchOptions.Default;
        for (var start = 0; start < lengths.Length; start += options.SortWindow)
        {
            var n = Math.Min(options.SortWindow, lengths.Length - start);
            planned.AddRange(BatchPlanner.Plan(lengths.AsSpan(start, n), options).Select(b => b.Select(i => i + start).ToArray()));
        }
        var plannedPadded = BatchPlanner.PaddedTokens(lengths, planned);
        Console.WriteLine($"padding on STS dev ({lengths.Length} texts, {real:N0} real tokens): fixed batches of 32 in input order compute {fixedPadded:N0} positions " +
                          $"({100.0 * (fixedPadded - real) / fixedPadded:F1} % padding, {fixedBatches.Count} passes); token-budget batches (window {options.SortWindow}, " +
                          $"≤ {options.MaxTextsPerBatch} texts, ≤ {options.MaxTokensPerBatch} tokens) compute {plannedPadded:N0} ({100.0 * (plannedPadded - real) / plannedPadded:F1} %, {planned.Count} passes)");
    }

    private static void Search()
    {
        var random = new Random(1);
        Embeddings Unit(int n)
        {
            var data = new float[n * 384];
            for (var i = 0; i < data.Length; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
            return new Embeddings(data, n, 384).Normalize();
        }
        var corpus = Unit(100_000);
        _ = corpus.Norms; // the one-off row norms, timed separately
        foreach (var q in new[] { 1, 1, 10, 100, 1000 })
        {
            var queries = Unit(q);
            var clock = Stopwatch.StartNew();
            var hits = queries.SemanticSearch(corpus, topK: 10);
            clock.Stop();
            Console.WriteLine($"semantic search, 100,000 × 384 corpus, cosine, top 10: {q} queries in {clock.Elapsed.TotalMilliseconds:F1} ms ({hits.Length} result lists)");
        }
        var fresh = Unit(100_000);
        var one = Unit(1);
        var c2 = Stopwatch.StartNew();
        one.SemanticSearch(fresh, topK: 10);
        Console.WriteLine($"semantic search, first call on a new 100,000 × 384 corpus (its row norms computed once): {c2.Elapsed.TotalMilliseconds:F1} ms");
    }

    /// <summary>Streams the sentences cycled to <paramref name="count"/> texts; texts/s and RSS every tenth.</summary>
    private static void Stream(SentenceEmbedder embedder, string[] sentences, int count)
    {
        IEnumerable<string> Texts()
        {
            for (var i = 0; i < count; i++) yield return sentences[i % sentences.Length];
        }
        var step = Math.Max(1, count / 10);
        var clock = Stopwatch.StartNew();
        long baseline = 0;
        var last = TimeSpan.Zero;
        long lastTexts = 0;
        double checksum = 0;
        foreach (var r in embedder.EmbedStream(Texts()))
        {
            checksum += r.Values[0];
            var done = r.Index + 1;
            if (done % step != 0) continue;
            var rss = Rss();
            if (done == step) baseline = rss;
            var rate = (done - lastTexts) / (clock.Elapsed - last).TotalSeconds;
            Console.WriteLine($"  {done,9:N0} texts  {clock.Elapsed.TotalSeconds,7:F1} s  {rate,7:F0} texts/s  RSS {rss / 1048576.0,7:F1} MiB  ({(rss - baseline) * 100.0 / baseline:+0.0;-0.0} % since {step:N0} texts)");
            last = clock.Elapsed;
            lastTexts = done;
        }
        Console.WriteLine($"streamed {count:N0} texts in {clock.Elapsed.TotalSeconds:F1} s: {count / clock.Elapsed.TotalSeconds:F0} texts/s (checksum {checksum:F3})");
    }

    private static long Rss()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        return Environment.WorkingSet;
    }
}

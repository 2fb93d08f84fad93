using System.Diagnostics;
using static TransformerEmbeddings.Reliability.Harness;

namespace TransformerEmbeddings.Reliability;

/// <summary>
/// <c>threads</c>: eight threads share one model for minutes, each embedding the STS sentences in chunks in its own
/// order; every vector must equal, bit for bit, what a sequential run gave for the same chunk. Exact (float32) and fast
/// precision in turn. The short version is a unit test (ThreadsAndDisposeTests).
/// </summary>
internal static class Threads
{
    public static int Run(string[] args)
    {
        var threads = int.Parse(Option(args, "--threads", "8"));
        var minutes = double.Parse(Option(args, "--minutes", "2"), System.Globalization.CultureInfo.InvariantCulture);
        var model = Option(args, "--model", Model("all-MiniLM-L6-v2"));
        var chunk = int.Parse(Option(args, "--chunk", "16"));
        var precisions = Option(args, "--precision", "float32,fast").Split(',');
        var sentences = StsSentences();
        var chunks = sentences.Chunk(chunk).ToList();
        Console.WriteLine($"# threads: {threads} threads sharing one model for {minutes} min per precision, against a sequential run — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine($"CPU: {Cpu()}; load average before: {LoadAverage()}; model: {model}; {sentences.Count} STS sentences in chunks of {chunk}");
        Console.WriteLine();
        Console.WriteLine("| precision | threads | minutes | calls | texts | texts/s | vectors differing from the sequential run |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        var ok = true;
        foreach (var name in precisions)
        {
            var precision = name == "fast" ? Precision.Fast : Precision.Float32;
            using var embedder = SentenceEmbedder.Load(model, new ModelOptions { Precision = precision });
            var sequential = chunks.Select(c => embedder.Embed(c).Values.ToArray()).ToList();
            long calls = 0, texts = 0, differing = 0;
            var clock = Stopwatch.StartNew();
            var deadline = TimeSpan.FromMinutes(minutes);
            var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
            {
                var random = new Random(26 + t);
                while (clock.Elapsed < deadline)
                {
                    var c = random.Next(chunks.Count);
                    var vectors = embedder.Embed(chunks[c]).Values.ToArray();
                    Interlocked.Increment(ref calls);
                    Interlocked.Add(ref texts, chunks[c].Length);
                    if (!vectors.AsSpan().SequenceEqual(sequential[c])) Interlocked.Increment(ref differing);
                }
            })).ToList();
            workers.ForEach(w => w.Start());
            workers.ForEach(w => w.Join());
            var seconds = clock.Elapsed.TotalSeconds;
            Console.WriteLine($"| {name} | {threads} | {F(seconds / 60, "F1")} | {calls:N0} | {texts:N0} | {F(texts / seconds, "F0")} | {differing} |");
            ok &= differing == 0 && calls > 0;
        }
        Console.WriteLine();
        Console.WriteLine($"Load average after: {LoadAverage()}");
        Console.WriteLine(ok ? "PASS" : "FAIL");
        return ok ? 0 : 1;
    }
}

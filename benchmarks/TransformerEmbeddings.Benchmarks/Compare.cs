using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using TransformerEmbeddings.Runtime;

namespace TransformerEmbeddings.Benchmarks;

/// <summary>
/// <c>compare</c>: this library and ONNX Runtime side by side in one process, alternating, same thread count:
/// load time, forward-from-ids grid, STS-benchmark corpus end to end, cosine agreement, RSS, start to first vector.
/// </summary>
internal static class Compare
{
    public static readonly (int B, int S)[] Grid = [(1, 16), (32, 32), (32, 128), (8, 512)];

    public static int Run(Options o)
    {
        var rssStart = Machine.RssMiB();
        var clock = Stopwatch.StartNew();
        NativeRuntime.EnsureLoaded();
        var nativeInit = clock.Elapsed;
        var ours = new TorchEmbedder(Corpus.MiniLmFolder, o.ModelOptions(), o.Mode == "fast" ? "TorchSharp (fast)" : "TorchSharp");
        Header(o, ours.Model.ComputePath);
        if (!o.SkipStartup) StartupChildren(o);
        var rssOurs = Machine.RssMiB();
        using var ours2 = new TorchEmbedder(Corpus.MiniLmFolder, o.ModelOptions()); // a warm second load
        var warmLoad = ours2.LoadTime;
        ours2.Dispose();
        var rssBeforeOrt = Machine.RssMiB();
        var ort = new OrtEmbedder(o.Threads);
        var rssOrt = Machine.RssMiB();
        Console.WriteLine($"ONNX model: {ort.Describe()}");
        Console.WriteLine();
        Console.WriteLine("## Load");
        Console.WriteLine($"| engine | first load (ms) | warm load (ms) | RSS added (MiB) |");
        Console.WriteLine($"|---|---:|---:|---:|");
        Console.WriteLine($"| TorchSharp ({o.Mode}) | {ours.LoadTime.TotalMilliseconds:F0} (+{nativeInit.TotalMilliseconds:F0} native runtime init) | {warmLoad.TotalMilliseconds:F0} | {rssOurs - rssStart:F0} |");
        Console.WriteLine($"| ONNX Runtime | {ort.LoadTime.TotalMilliseconds:F0} (resource read {ort.ReadTime.TotalMilliseconds:F0}) | - | {rssOrt - rssBeforeOrt:F0} |");

        IEmbedder[] engines = [ours, ort];
        if (!o.SkipGrid) ForwardGrid(o, engines);
        // The fast mode is judged against the exact result: the same model loaded exact runs beside it.
        using var exact = o.Mode == "fast" ? new TorchEmbedder(Corpus.MiniLmFolder, new ModelOptions(), "TorchSharp (exact)") : null;
        // --with-libtorch: the same model with the library's CPU kernels switched off, to show what they buy.
        var stsEngines = new List<IEmbedder>(engines);
        if (exact is not null) stsEngines.Add(exact);
        if (o.WithLibtorch) stsEngines.Add(new KernelsOffEmbedder(Corpus.MiniLmFolder));
        // --with-intrinsics: the fast mode again on the AVX-512 intrinsics integer kernel instead of the AVX512-VNNI machine code.
        using var intrinsics = o.WithIntrinsics && o.Mode == "fast"
            ? new TorchEmbedder(Corpus.MiniLmFolder, new Options { Mode = o.Mode, Isa = o.Isa, NoAvx512Vnni = true }.ModelOptions(), "TorchSharp (fast, AVX-512 intrinsics integer kernel)")
            : null;
        if (intrinsics is not null) stsEngines.Add(intrinsics);
        if (!o.SkipSts) Sts(o, stsEngines.ToArray(), exact is null ? -1 : 2, intrinsics is null ? -1 : stsEngines.Count - 1);

        Console.WriteLine();
        Console.WriteLine($"Process peak RSS (both engines loaded): {Machine.PeakRssMiB():F0} MiB");
        ours.Dispose();
        ort.Dispose();
        return 0;
    }

    private static void Header(Options o, string computePath)
    {
        torch.set_num_threads(o.Threads);
        Console.WriteLine($"# TransformerEmbeddings vs ONNX Runtime — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine($"CPU: {Machine.CpuModel()}; features: {Machine.Features()}");
        Console.WriteLine($".NET {Environment.Version}; TorchSharp {typeof(torch).Assembly.GetName().Version} (libtorch {torch.__version__}); " +
                          $"ONNX Runtime {typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly.GetName().Version}");
        Console.WriteLine($"Threads: {o.Threads} (torch intra-op {torch.get_num_threads()}, ORT intra-op {o.Threads}, inter-op 1)");
        Console.WriteLine($"Mode: {o.Mode}; path: {o.PathDescription(computePath)}");
        Console.WriteLine($"Model: {Corpus.MiniLmFolder}");
    }

    private static void ForwardGrid(Options o, IEmbedder[] engines)
    {
        Console.WriteLine();
        Console.WriteLine("## Encoder forward from ids (all-MiniLM-L6-v2, random ids, no padding)");
        Console.WriteLine("| B×S | TorchSharp ms (median / best) | ORT ms (median / best) | ORT/ours median (×, >1 = we are faster) | ORT/ours best | tokens/s ours | tokens/s ORT | min cosine |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (b, s) in Grid)
        {
            var rows = Corpus.RandomIds(b, s, 30522);
            var vo = engines[0].Embed(rows);
            var vr = engines[1].Embed(rows);
            var (min, _) = Vectors.Agreement(vo, vr);
            var times = Alternate(engines, e => e.Forward(rows), o.GridSeconds, minReps: 3);
            var (to, tr) = (Median(times[0]), Median(times[1]));
            var (bo, br) = (times[0].Min(), times[1].Min());
            Console.WriteLine($"| {b}×{s} | {to:F2} / {bo:F2} | {tr:F2} / {br:F2} | {tr / to:F2} | {br / bo:F2} | {b * s / to * 1000:F0} | {b * s / tr * 1000:F0} | {min:F6} |");
        }
    }

    private static void Sts(Options o, IEmbedder[] engines, int exactIndex, int intrinsicsIndex)
    {
        var sentences = Corpus.StsSentences(o.Sentences);
        var tok = Corpus.Tokenizer(Corpus.MiniLmFolder);
        var clock = Stopwatch.StartNew();
        var ids = sentences.Select(t => Corpus.Encode(tok, t)).ToList();
        var tokenizeMs = clock.Elapsed.TotalMilliseconds;
        var tokens = ids.Sum(r => r.Length);
        var batches = Corpus.LengthSortedBatches(ids, o.BatchSize);
        var padded = batches.Sum(bt => bt.Length * bt.Max(i => ids[i].Length));

        float[][] Embed(IEmbedder e)
        {
            var t = sentences.Select(s => Corpus.Encode(tok, s)).ToList(); // tokenization is part of end to end
            var result = new float[t.Count][];
            foreach (var batch in batches)
            {
                var vectors = e.Embed(batch.Select(i => t[i]).ToArray());
                for (var k = 0; k < batch.Length; k++) result[batch[k]] = vectors[k];
            }
            return result;
        }

        Console.WriteLine();
        Console.WriteLine($"## STS-benchmark dev, end to end ({sentences.Count} sentences, {tokens} tokens, {padded} with padding, " +
                          $"length-sorted batches of {o.BatchSize}; tokenization {tokenizeMs:F0} ms, same ids for both)");
        var outputs = new float[engines.Length][][];
        var times = engines.Select(_ => new List<double>()).ToArray();
        // What users call: SentenceEmbedder.Embed on the raw texts (its own token-budget batches), the model of row 0.
        using var pipeline = SentenceEmbedder.Load(Corpus.MiniLmFolder, o.ModelOptions());
        var pipelineTimes = new List<double>();
        float[][]? pipelineOutput = null;
        for (var rep = 0; rep < o.Reps; rep++)
        {
            for (var k = 0; k < engines.Length; k++)
            {
                Thread.Sleep(100);
                var sw = Stopwatch.StartNew();
                var v = Embed(engines[k]);
                times[k].Add(sw.Elapsed.TotalMilliseconds);
                outputs[k] = v;
            }
            Thread.Sleep(100);
            var clock2 = Stopwatch.StartNew();
            var embeddings = pipeline.Embed(sentences);
            pipelineTimes.Add(clock2.Elapsed.TotalMilliseconds);
            pipelineOutput = Enumerable.Range(0, embeddings.Count).Select(i => embeddings[i].ToArray()).ToArray();
        }
        var (min, mean) = Vectors.Agreement(outputs[0], outputs[1]);
        var (to, tr) = (times[0].Min(), times[1].Min());
        var scores = o.Sentences is null ? Corpus.StsScores() : null;
        Console.WriteLine("| engine | best s | all runs s | sentences/s | tokens/s | STS Spearman ×100 |");
        Console.WriteLine("|---|---:|---|---:|---:|---:|");
        for (var k = 0; k < engines.Length; k++)
            Console.WriteLine($"| {engines[k].Name} | {times[k].Min() / 1000:F2} | {string.Join(" ", times[k].Select(t => (t / 1000).ToString("F2", CultureInfo.InvariantCulture)))} | " +
                              $"{sentences.Count / times[k].Min() * 1000:F0} | {tokens / times[k].Min() * 1000:F0} | " +
                              $"{(scores is null ? "-" : (100 * Vectors.StsSpearman(outputs[k], scores)).ToString("F2", CultureInfo.InvariantCulture))} |");
        var (pmin, _) = Vectors.Agreement(pipelineOutput!, outputs[0]);
        Console.WriteLine($"| {engines[0].Name}, SentenceEmbedder.Embed (library batching, raw texts) | {pipelineTimes.Min() / 1000:F2} | " +
                          $"{string.Join(" ", pipelineTimes.Select(t => (t / 1000).ToString("F2", CultureInfo.InvariantCulture)))} | " +
                          $"{sentences.Count / pipelineTimes.Min() * 1000:F0} | {tokens / pipelineTimes.Min() * 1000:F0} | min cosine to row 1: {pmin:F7} |");
        Console.WriteLine($"Throughput ratio ORT time / ours: **{tr / to:F2}×**; per-row cosine ours vs ORT: min {min:F7}, mean {mean:F7} " +
                          $"({(min >= o.CosineTarget ? "meets" : "MISSES")} ≥ {o.CosineTarget})");
        if (exactIndex >= 0)
        {
            var (fmin, fmean) = Vectors.Agreement(outputs[0], outputs[exactIndex]);
            Console.WriteLine($"Fast mode vs exact (same library, same run): **{times[exactIndex].Min() / to:F2}×** the exact throughput; per-row cosine min {fmin:F7}, " +
                              $"mean {fmean:F7} ({(fmin >= o.CosineTarget ? "meets" : "MISSES")} ≥ {o.CosineTarget})");
        }
        if (intrinsicsIndex >= 0)
        {
            bool same = outputs[0].Zip(outputs[intrinsicsIndex]).All(p => p.First.AsSpan().SequenceEqual(p.Second));
            Console.WriteLine($"Row 1 vs the AVX-512 intrinsics integer kernel (same run): **{times[intrinsicsIndex].Min() / to:F2}×** its throughput; " +
                              $"identical embeddings: {same}");
        }
    }

    /// <summary>
    /// Runs the engines in alternating blocks (a few runs each, then a pause) until every engine has minReps runs
    /// and the time budget is spent; ms per run. The pause lets the previous engine's spinning worker threads
    /// (ORT's pool, libtorch's OpenMP) go idle, so neither engine is measured while the other still holds a core.
    /// </summary>
    public static List<double>[] Alternate(IEmbedder[] engines, Action<IEmbedder> work, double seconds, int minReps, int block = 5)
    {
        var times = engines.Select(_ => new List<double>()).ToArray();
        var budget = Stopwatch.StartNew();
        while (times[0].Count < minReps || budget.Elapsed.TotalSeconds < seconds)
        {
            for (var k = 0; k < engines.Length; k++)
            {
                Thread.Sleep(30);
                work(engines[k]); // warm this engine's threads and caches again after the pause
                for (var r = 0; r < block; r++)
                {
                    var sw = Stopwatch.StartNew();
                    work(engines[k]);
                    times[k].Add(sw.Elapsed.TotalMilliseconds);
                    if (sw.Elapsed.TotalSeconds > 1) break;
                }
            }
            if (times[0].Count >= 1000) break;
        }
        return times;
    }

    public static double Median(List<double> xs)
    {
        var s = xs.OrderBy(x => x).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>Each engine in a fresh child process: process start to first vector, and that process's peak RSS.</summary>
    private static void StartupChildren(Options o)
    {
        Console.WriteLine();
        Console.WriteLine("## Cold start (fresh process each: runtime start, load, tokenize one sentence, first vector)");
        Console.WriteLine("| engine | process start → first vector (ms) | load (ms) | peak RSS (MiB) |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var engine in new[] { "ours", "ort" })
        {
            var exe = Environment.ProcessPath!;
            var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(exe) == "dotnet") psi.ArgumentList.Add(typeof(Compare).Assembly.Location);
            foreach (var a in new[] { "first-vector", "--engine", engine, "--threads", o.Threads.ToString(CultureInfo.InvariantCulture), "--mode", o.Mode })
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("FIRSTVECTOR", StringComparison.Ordinal));
            Console.WriteLine(line is null ? $"| {engine} | failed: {output.Trim()} | | |" : line["FIRSTVECTOR".Length..].Trim());
        }
    }

    /// <summary>The child side of <see cref="StartupChildren"/>.</summary>
    public static int FirstVector(Options o, string engine)
    {
        var start = Process.GetCurrentProcess().StartTime;
        var tok = Corpus.Tokenizer(Corpus.MiniLmFolder);
        var load = Stopwatch.StartNew();
        IEmbedder e;
        if (engine == "ort") e = new OrtEmbedder(o.Threads);
        else
        {
            NativeRuntime.EnsureLoaded();
            torch.set_num_threads(o.Threads);
            e = new TorchEmbedder(Corpus.MiniLmFolder, o.ModelOptions());
        }
        var loadMs = load.Elapsed.TotalMilliseconds;
        var v = e.Embed([Corpus.Encode(tok, "A man with a hard hat is dancing.")]);
        var ms = (DateTime.Now - start).TotalMilliseconds;
        Console.WriteLine($"FIRSTVECTOR | {(engine == "ort" ? "ONNX Runtime" : $"TorchSharp ({o.Mode})")} | {ms:F0} | {loadMs:F0} | {Machine.PeakRssMiB():F0} |");
        GC.KeepAlive(v);
        e.Dispose();
        return 0;
    }
}

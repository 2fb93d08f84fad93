using System.Diagnostics;
using System.Security.Cryptography;
using static TransformerEmbeddings.Reliability.Harness;

namespace TransformerEmbeddings.Reliability;

/// <summary>
/// <c>kills</c>: <c>te embed --resume</c> killed with SIGKILL at N random moments, then resumed to the end, must give
/// the bytes of an uninterrupted run. Each moment is drawn uniformly over what the next run would take (its start-up
/// included, so some kills land while the model loads), from a fixed seed. Prints every kill and the outcome.
/// </summary>
internal static class Kills
{
    public static int Run(string[] args)
    {
        var kills = int.Parse(Option(args, "--kills", "20"));
        var texts = int.Parse(Option(args, "--texts", "6000"));
        var model = Option(args, "--model", Model("all-MiniLM-L6-v2"));
        var precision = Option(args, "--precision", "float32");
        var format = Option(args, "--format", "npy");
        var random = new Random(int.Parse(Option(args, "--seed", "26")));
        var writing = Option(args, "--during", "writing") switch
        {
            "writing" => true,
            "all" => false,
            var other => throw new ArgumentException($"--during must be writing or all, not {other}."),
        };
        var work = Option(args, "--work", Directory.CreateTempSubdirectory("te-kills-").FullName);
        Directory.CreateDirectory(work);

        var te = CopyOfTe(work);
        var sentences = StsSentences();
        var input = Path.Combine(work, "input.txt");
        File.WriteAllLines(input, Enumerable.Range(0, texts).Select(i => sentences[i % sentences.Count]));
        string[] Args(string output) => ["embed", "--model", model, "--input", input, "--output", output, "--precision", precision, "--progress", "None", "--resume"];
        Console.WriteLine($"# kills: te embed --resume over {texts:N0} texts, SIGKILL at {kills} random moments ({(writing ? "after start-up, while rows are written" : "over the whole run")}), then resumed to the end — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine($"CPU: {Cpu()}; load average before: {LoadAverage()}; model: {model}; --precision {precision}; output .{format}; work: {work}");

        // The uninterrupted run: its bytes, its start-up time (until the first rows are on disk) and its rate.
        var reference = Path.Combine(work, "reference." + format);
        var clock = Stopwatch.StartNew();
        double? startup = null;
        using (var p = StartTe(te, Args(reference)))
        {
            var error = p.StandardError.ReadToEndAsync();
            var partial = Path.Combine(work, ".reference." + format + ".partial");
            while (!p.WaitForExit(50))
                if (startup is null && File.Exists(partial) && new FileInfo(partial).Length > 128) startup = clock.Elapsed.TotalSeconds;
            if (p.ExitCode != 0) throw new InvalidOperationException($"the reference run exited {p.ExitCode}: {error.Result}");
        }
        var total = clock.Elapsed.TotalSeconds;
        startup ??= total / 2;
        var rate = texts / Math.Max(0.1, total - startup.Value);
        var expected = SHA256.HashData(File.ReadAllBytes(reference));
        Console.WriteLine($"Uninterrupted: {F(total)} s ({F(startup.Value)} s to the first rows, {F(rate, "F0")} texts/s after).");
        Console.WriteLine();
        Console.WriteLine("| kill | after (s) | rows durable before | rows durable after the kill |");
        Console.WriteLine("|---:|---:|---:|---:|");

        var output = Path.Combine(work, "killed." + format);
        var data = Path.Combine(work, ".killed." + format + ".partial");
        long Durable() => File.Exists(data) ? Math.Max(0, (new FileInfo(data).Length - (format == "npy" ? 128 : 0)) / RowBytes(model)) : 0;
        int done = 0, finishedFirst = 0, duringStartup = 0;
        while (done < kills)
        {
            var before = Durable();
            // The moment: uniform over what this run should take — its start-up (the shortest seen so far: a warm start is
            // quicker than the first) and the rows still to do at the measured rate; with --during writing (the default)
            // only over the rows still to do, after the start-up, so that the kills meet rows being written.
            var delay = writing
                ? startup.Value + random.NextDouble() * ((texts - before) / rate)
                : random.NextDouble() * (startup.Value + (texts - before) / rate);
            using var p = StartTe(te, Args(output));
            var stderr = p.StandardError.ReadToEndAsync();
            var run = Stopwatch.StartNew();
            double? grew = null;
            while (run.Elapsed.TotalSeconds < delay && !p.HasExited)
            {
                Thread.Sleep(10);
                if (grew is null && Durable() > before) grew = run.Elapsed.TotalSeconds;
            }
            if (p.HasExited)
            {
                // It finished (or failed) before its moment came: report it; after a finish start again from nothing, so
                // that every kill meets a running job.
                p.WaitForExit();
                finishedFirst++;
                // A machine that got quicker than the reference run: draw the next moments from this run's pace.
                if (grew is { } first && before == 0)
                {
                    startup = Math.Min(startup.Value, first);
                    rate = Math.Max(rate, texts / Math.Max(0.1, run.Elapsed.TotalSeconds - first));
                }
                Console.WriteLine($"| – | {F(delay, "F2")} | {before:N0} | (run ended first: exit {p.ExitCode}{(p.ExitCode != 0 ? ", " + stderr.Result.Trim() : "")}) |");
                if (p.ExitCode != 0) return 1;
                File.Delete(output);
                continue;
            }
            p.Kill(); // SIGKILL: no handler, no flush
            p.WaitForExit();
            if (grew is { } g) startup = Math.Min(startup.Value, g);
            done++;
            var after = Durable();
            if (after == before) duringStartup++;
            Console.WriteLine($"| {done} | {F(delay, "F2")} | {before:N0} | {after:N0} |");
        }

        var (code, message) = RunTe(te, Args(output));
        var identical = code == 0 && File.Exists(output) && SHA256.HashData(File.ReadAllBytes(output)).AsSpan().SequenceEqual(expected);
        var leftovers = Directory.GetFiles(work, ".killed.*");
        Console.WriteLine();
        Console.WriteLine($"{kills} kills ({duringStartup} before any new row was durable; {finishedFirst} runs finished before their moment and were restarted from nothing); " +
                          $"final resume exit {code}{(code != 0 ? ": " + message.Trim() : "")}; output byte-identical to the uninterrupted run: {identical}; partial files left: {leftovers.Length}.");
        Console.WriteLine($"Load average after: {LoadAverage()}");
        var ok = identical && leftovers.Length == 0;
        Console.WriteLine(ok ? "PASS" : "FAIL");
        return ok ? 0 : 1;
    }

    private static readonly Dictionary<string, long> Dimensions = [];

    /// <summary>Bytes per float32 row for a model (its embedding dimension, read once).</summary>
    private static long RowBytes(string model)
    {
        if (!Dimensions.TryGetValue(model, out var bytes))
        {
            using var embedder = SentenceEmbedder.Load(model);
            Dimensions[model] = bytes = 4L * embedder.Dimension;
        }
        return bytes;
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace TransformerEmbeddings.Benchmarks;

/// <summary>
/// <c>cli</c>: what users run, as whole processes. <c>te embed</c> (exact, and <c>--precision fast</c>) and the ONNX
/// Runtime console (<c>ort-embed</c>: the same export, tokenizer, batches, pooling) embed the same file, alternating,
/// several runs each; ratio of medians, peak RSS, and how close the vectors are. Also the start-up to the first vector
/// (a one-line file). Build the solution in Release first. te runs as its tool package ships it (published for this
/// platform, ReadyToRun); <c>--te-build</c> runs the build output instead.
/// </summary>
internal static class CliCompare
{
    private sealed record Engine(string Name, string Output, string[] Arguments);

    public static int Run(Options o)
    {
        var root = RepositoryRoot();
        var te = Path.Combine(root, "src", "TransformerEmbeddings.Cli", "bin", "Release", "net10.0", "te.dll");
        var ort = Path.Combine(root, "benchmarks", "TransformerEmbeddings.OrtEmbed", "bin", "Release", "net10.0", "ort-embed.dll");
        foreach (var f in new[] { te, ort })
            if (!File.Exists(f)) { Console.Error.WriteLine($"{f} is missing: build the solution first (dotnet build -c Release)."); return 1; }

        var work = Directory.CreateTempSubdirectory("te-cli-compare-").FullName;
        if (!o.Rest.Contains("--te-build"))
        {
            // te as its tool package has it: published for this platform, ahead-of-time compiled (ReadyToRun).
            var published = Path.Combine(work, "te");
            Console.Error.WriteLine($"Publishing te for {RuntimeInformation.RuntimeIdentifier} (ReadyToRun) to {published} ...");
            Exec(["dotnet", "publish", Path.Combine(root, "src", "TransformerEmbeddings.Cli"), "-c", "Release", "-r", RuntimeInformation.RuntimeIdentifier,
                  "--self-contained", "false", "-p:PublishReadyToRun=true", "-o", published, "--nologo", "-v", "q"]);
            te = Path.Combine(published, "te.dll");
        }
        var sentences = Corpus.StsSentences(o.Sentences);
        var input = Path.Combine(work, "sts-dev.txt");
        File.WriteAllLines(input, sentences);
        var one = Path.Combine(work, "one.txt");
        File.WriteAllLines(one, ["A man with a hard hat is dancing."]);
        var onnx = Path.Combine(work, "model.onnx");
        Exec(["dotnet", ort, "--extract", onnx]);

        Engine Te(string name, string file, string output, params string[] extra) =>
            new(name, output, ["dotnet", te, "embed", "--model", Corpus.MiniLmFolder, "--input", file, "--output", output, .. extra]);
        Engine Ort(string file, string output) =>
            new("ONNX Runtime console", output, ["dotnet", ort, "--tokenizer", Corpus.MiniLmFolder, "--onnx", onnx, "--input", file, "--output", output]);

        Console.WriteLine($"# `te embed` vs the ONNX Runtime console, whole processes — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine($"CPU: {Machine.CpuModel()}; features: {Machine.Features()}; load average before: {LoadAverage()}");
        Console.WriteLine($"Input: {sentences.Count} STS-benchmark dev sentences, all-MiniLM-L6-v2; runs per engine: {o.Reps} (alternating, each round starting with the next engine, after one warm-up each)");
        var engines = new List<Engine> { Te("te embed (exact)", input, Path.Combine(work, "exact.npy")), Ort(input, Path.Combine(work, "ort.npy")) };
        if (o.Mode == "fast") engines.Insert(1, Te("te embed --precision fast", input, Path.Combine(work, "fast.npy"), "--precision", "fast"));
        var times = Measure(engines, o.Reps);

        var ortIndex = engines.Count - 1;
        var reference = Npy.Read(engines[ortIndex].Output);
        var exact = Npy.Read(engines[0].Output);
        Console.WriteLine();
        Console.WriteLine("| engine | median s | best s | runs s | peak RSS MiB | ORT median / this median | min cosine to ORT | min cosine to exact |");
        Console.WriteLine("|---|---:|---:|---|---:|---:|---:|---:|");
        for (int k = 0; k < engines.Count; k++)
        {
            var vectors = Npy.Read(engines[k].Output);
            var (toOrt, _) = Vectors.Agreement(vectors, reference);
            var (toExact, _) = Vectors.Agreement(vectors, exact);
            var t = times[k];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {engines[k].Name} | {Compare.Median(t.Seconds):F2} | {t.Seconds.Min():F2} | {string.Join(" ", t.Seconds.Select(s => s.ToString("F2", CultureInfo.InvariantCulture)))} | {t.PeakRss.Max():F0} | **{Compare.Median(times[ortIndex].Seconds) / Compare.Median(t.Seconds):F2}×** | {toOrt:F7} | {toExact:F7} |"));
        }

        Console.WriteLine();
        Console.WriteLine("Start-up to the first vector (a one-line file, whole process):");
        var startup = new List<Engine> { Te("te embed (exact)", one, Path.Combine(work, "one-exact.npy")), Ort(one, Path.Combine(work, "one-ort.npy")) };
        if (o.Mode == "fast") startup.Insert(1, Te("te embed --precision fast", one, Path.Combine(work, "one-fast.npy"), "--precision", "fast"));
        var first = Measure(startup, o.Reps);
        Console.WriteLine("| engine | median s | best s | peak RSS MiB |");
        Console.WriteLine("|---|---:|---:|---:|");
        for (int k = 0; k < startup.Count; k++)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {startup[k].Name} | {Compare.Median(first[k].Seconds):F2} | {first[k].Seconds.Min():F2} | {first[k].PeakRss.Max():F0} |"));
        Console.WriteLine($"load average after: {LoadAverage()}");
        Directory.Delete(work, recursive: true);
        return 0;
    }

    private sealed record Timings(List<double> Seconds, List<double> PeakRss);

    private static Timings[] Measure(List<Engine> engines, int reps)
    {
        foreach (var e in engines) Exec(e.Arguments); // warm-up: page cache, first-run JIT caches
        var result = engines.Select(_ => new Timings([], [])).ToArray();
        for (int rep = 0; rep < reps; rep++)
            for (int j = 0; j < engines.Count; j++)
            {
                // Each round starts with the next engine: whichever runs right after another engine's exit pays for the
                // memory that one just freed (on the Zen 4 VM the first of a round started ~0.1 s slower).
                int k = (j + rep) % engines.Count;
                Thread.Sleep(500);
                var (seconds, rss) = Exec(engines[k].Arguments);
                result[k].Seconds.Add(seconds);
                result[k].PeakRss.Add(rss);
            }
        return result;
    }

    /// <summary>Runs a command to completion: wall seconds and peak RSS (MiB, from the kernel's accounting of the child).</summary>
    private static (double Seconds, double PeakRssMiB) Exec(string[] command)
    {
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        double peak = 0;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        while (!p.WaitForExit(20)) peak = Math.Max(peak, PeakRss(p.Id));
        var seconds = clock.Elapsed.TotalSeconds;
        if (p.ExitCode != 0) throw new InvalidOperationException($"{string.Join(' ', command)} failed ({p.ExitCode}): {stderr.Result}{stdout.Result}");
        return (seconds, peak);
    }

    private static double PeakRss(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "TransformerEmbeddings.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("Run from a build inside the repository.");
    }
}

/// <summary>Reads the float32 [N, D] .npy files both tools write.</summary>
internal static class Npy
{
    public static float[][] Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        int headerLength = BitConverter.ToUInt16(bytes, 8);
        var header = System.Text.Encoding.ASCII.GetString(bytes, 10, headerLength);
        var shape = header[(header.IndexOf("'shape': (", StringComparison.Ordinal) + 10)..];
        var dims = shape[..shape.IndexOf(')')].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
        var data = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(10 + headerLength)).ToArray();
        return Enumerable.Range(0, dims[0]).Select(r => data.AsSpan(r * dims[1], dims[1]).ToArray()).ToArray();
    }
}

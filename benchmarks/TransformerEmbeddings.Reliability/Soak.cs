using System.Diagnostics;
using System.Runtime.InteropServices;
using static TransformerEmbeddings.Reliability.Harness;

namespace TransformerEmbeddings.Reliability;

/// <summary>
/// <c>soak</c>: one <c>te embed</c> process over N texts (the STS-benchmark dev sentences, cycled) into .npy, run under
/// <c>nice -n 19</c>. Its resident set is sampled every 10,000 texts (from the rows in its partial output); afterwards the
/// output is checked whole (N rows, every value finite, unit norms where the model normalises) and spot-checked: random
/// rows against the same text embedded alone by the library, and rows of the same text in different cycles against each
/// other. Passes when RSS after warm-up grows less than 5 %.
/// </summary>
internal static class Soak
{
    public static int Run(string[] args)
    {
        var texts = long.Parse(Option(args, "--texts", "1000000"));
        var model = Option(args, "--model", Model("all-MiniLM-L6-v2"));
        var precision = Option(args, "--precision", "fast");
        var every = long.Parse(Option(args, "--sample-every", "10000"));
        var warmup = long.Parse(Option(args, "--warm-up", "100000"));
        var spots = int.Parse(Option(args, "--spot-checks", "50"));
        var work = Option(args, "--work", Directory.CreateTempSubdirectory("te-soak-").FullName);
        Directory.CreateDirectory(work);

        var te = CopyOfTe(work);
        var sentences = StsSentences();
        var input = Path.Combine(work, "input.txt");
        using (var w = new StreamWriter(input))
            for (long i = 0; i < texts; i++) w.WriteLine(sentences[(int)(i % sentences.Count)]);
        var output = Path.Combine(work, "out.npy");
        var partial = Path.Combine(work, ".out.npy.partial");
        Console.WriteLine($"# soak: te embed over {texts:N0} texts ({sentences.Count} STS-benchmark dev sentences, cycled), --precision {precision} — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine($"CPU: {Cpu()}; load average before: {LoadAverage()}; model: {model}; work: {work}");

        using var embedder = SentenceEmbedder.Load(model, new ModelOptions { Precision = precision == "fast" ? Precision.Fast : Precision.Float32 });
        var dimension = embedder.Dimension;
        var rowBytes = 4L * dimension;
        var clock = Stopwatch.StartNew();
        using var process = StartTe(te, ["embed", "--model", model, "--input", input, "--output", output, "--precision", precision, "--progress", "None"]);
        var errorText = process.StandardError.ReadToEndAsync();
        var samples = new List<(long Texts, double Seconds, double RssMiB)>();
        // Written as it goes: a soak stopped early still leaves its series.
        using var series = new StreamWriter(Path.Combine(work, "rss.csv")) { AutoFlush = true };
        series.WriteLine("texts,seconds,rss_mib");
        var peak = 0.0;
        long next = every;
        while (!process.HasExited)
        {
            Thread.Sleep(100);
            var rss = RssMiB(process.Id);
            if (rss is null) continue;
            peak = Math.Max(peak, rss.Value);
            long rows;
            try
            {
                rows = File.Exists(partial) ? (new FileInfo(partial).Length - 128) / rowBytes : 0;
            }
            catch (IOException)
            {
                continue; // renamed into place meanwhile
            }
            if (rows < next) continue;
            samples.Add((rows, clock.Elapsed.TotalSeconds, rss.Value));
            series.WriteLine($"{rows},{F(clock.Elapsed.TotalSeconds, "F1")},{F(rss.Value)}");
            next = (rows / every + 1) * every;
        }
        process.WaitForExit();
        var seconds = clock.Elapsed.TotalSeconds;
        if (process.ExitCode != 0)
        {
            Console.WriteLine($"te exited {process.ExitCode}: {errorText.Result}");
            return 1;
        }

        // The whole output: shape, finite values, norms.
        using var file = new FileStream(output, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var header = new byte[128];
        file.ReadExactly(header);
        var shapeOk = System.Text.Encoding.ASCII.GetString(header).Contains($"'shape': ({texts}, {dimension})", StringComparison.Ordinal);
        var lengthOk = file.Length == 128 + texts * rowBytes;
        var row = new float[dimension];
        long nonFinite = 0;
        double minNorm = double.MaxValue, maxNorm = 0;
        for (long i = 0; i < texts && lengthOk; i++)
        {
            file.ReadExactly(MemoryMarshal.AsBytes(row.AsSpan()));
            double norm = 0;
            foreach (var v in row)
            {
                if (!float.IsFinite(v)) nonFinite++;
                norm += (double)v * v;
            }
            norm = Math.Sqrt(norm);
            minNorm = Math.Min(minNorm, norm);
            maxNorm = Math.Max(maxNorm, norm);
        }

        // Spot checks: random rows against the text embedded alone, and the same text in two cycles.
        var random = new Random(26);
        double worstAlone = 0, worstCycles = 0, worstCosine = 1;
        for (var k = 0; k < spots; k++)
        {
            var index = (long)(random.NextDouble() * texts);
            var stored = ReadRow(file, index, dimension);
            var alone = embedder.Embed(sentences[(int)(index % sentences.Count)]);
            worstAlone = Math.Max(worstAlone, MaxAbs(stored, alone));
            worstCosine = Math.Min(worstCosine, Cosine(stored, alone));
            var cycles = texts / sentences.Count;
            if (cycles < 2) continue;
            var other = index % sentences.Count + random.NextInt64(cycles) * sentences.Count;
            worstCycles = Math.Max(worstCycles, MaxAbs(stored, ReadRow(file, other, dimension)));
        }

        // Growth after warm-up: the highest sample of the last tenth against the median of the first samples after warm-up.
        var after = samples.Where(s => s.Texts >= warmup).ToList();
        var baseline = after.Take(Math.Max(1, after.Count / 10)).Select(s => s.RssMiB).Order().ElementAtOrDefault(after.Count / 20);
        var late = after.Skip(after.Count * 9 / 10).Select(s => s.RssMiB).DefaultIfEmpty(0).Max();
        var growth = baseline > 0 ? late / baseline - 1 : double.NaN;
        Console.WriteLine();
        Console.WriteLine("| texts | wall s | texts/s | RSS samples | RSS at warm-up (MiB) | RSS, last tenth max (MiB) | growth | peak RSS (MiB) |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
        Console.WriteLine($"| {texts:N0} | {F(seconds, "F0")} | {F(texts / seconds, "F0")} | {samples.Count} | {F(baseline)} | {F(late)} | {F(100 * growth, "F2")} % | {F(peak)} |");
        Console.WriteLine();
        Console.WriteLine($"RSS every {every:N0} texts (MiB): min {F(samples.Select(s => s.RssMiB).DefaultIfEmpty(0).Min())}, " +
                          $"max {F(samples.Select(s => s.RssMiB).DefaultIfEmpty(0).Max())}; first ten: {string.Join(" ", samples.Take(10).Select(s => F(s.RssMiB, "F0")))}; " +
                          $"last ten: {string.Join(" ", samples.TakeLast(10).Select(s => F(s.RssMiB, "F0")))} ({Path.Combine(work, "rss.csv")})");
        Console.WriteLine($"Output: shape ok {shapeOk}, length ok {lengthOk}, non-finite values {nonFinite}, norms {F(minNorm, "F6")}..{F(maxNorm, "F6")}");
        Console.WriteLine($"Spot checks ({spots} random rows): max |Δ| to the text embedded alone {worstAlone:E2} (min cosine {F(worstCosine, "F7")}); " +
                          $"max |Δ| between cycles {worstCycles:E2}");
        Console.WriteLine($"Load average after: {LoadAverage()}");
        var ok = shapeOk && lengthOk && nonFinite == 0 && growth < 0.05 && worstCosine > 0.99999;
        Console.WriteLine(ok ? "PASS" : "FAIL");
        return ok ? 0 : 1;
    }

    private static float[] ReadRow(FileStream file, long index, int dimension)
    {
        var row = new float[dimension];
        file.Position = 128 + index * 4L * dimension;
        file.ReadExactly(MemoryMarshal.AsBytes(row.AsSpan()));
        return row;
    }

    private static double MaxAbs(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();

    private static double Cosine(float[] a, float[] b)
    {
        double ab = 0, aa = 0, bb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            ab += (double)a[i] * b[i];
            aa += (double)a[i] * a[i];
            bb += (double)b[i] * b[i];
        }
        return ab / Math.Sqrt(aa * bb);
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Kernels.Gemm;
using TransformerEmbeddings.Kernels.Linear;

// The library's CPU GEMMs without libtorch, for machines where only this app can be copied (publish it self-contained):
// 1. checks the 12-bit integer kernel of every instruction set this CPU runs against the same integer arithmetic done
//    in 64-bit, and that every instruction set gives the same bits (fp32 and integer; the 8-bit layers' byte kernel
//    included where AVX512-VNNI runs);
// 2. times the fp32 and the integer kernels of every instruction set on all-MiniLM-L6-v2's shapes, on 1 thread and
//    on every core, against the measured FMA peak. `--shapes 1024x768x3072,...` times other M×K×N (bert-base's, say),
//    `--timing-only` skips the checks.
var culture = CultureInfo.InvariantCulture;
Console.WriteLine($"CPU: {CpuModel()}; {Environment.ProcessorCount} logical cores");
Console.WriteLine($"AVX2 {Avx2.IsSupported}, FMA {Fma.IsSupported}, AVX-VNNI {AvxVnni.IsSupported}, AVX-512F {Avx512F.IsSupported}, AVX-512BW {Avx512BW.IsSupported}; flags: {string.Join(' ', Flags().Where(f => f.Contains("vnni") || f.Contains("bf16") || f.Contains("amx")))}");
// Each instruction set's intrinsics kernels, then the AVX512-VNNI machine-code integer kernel where this process runs it.
var tables = new[] { InstructionSet.Scalar, InstructionSet.Avx2, InstructionSet.Avx512 }.Where(KernelTable.Runs).Select(isa => KernelTable.For(isa, avx512Vnni: false))
    .Concat(QgemmAvx512Vnni.IsAvailable ? [KernelTable.For(InstructionSet.Avx512)] : []).ToArray();
Console.WriteLine($"kernel tables: {string.Join(", ", tables.Select(t => t.ToString()))}; best: {KernelTable.Best}");

var shapeArg = Array.IndexOf(args, "--shapes") is var si and >= 0 && si + 1 < args.Length ? args[si + 1] : null;
var timed = shapeArg is null
    ? new[] { (16, 384, 1536), (512, 384, 1152), (768, 384, 1536), (768, 1536, 384), (4096, 384, 1536) }
    : shapeArg.Split(',').Select(s => s.Split('x').Select(int.Parse).ToArray()).Select(d => (d[0], d[1], d[2])).ToArray();
var rnd = new Random(42);
float[] Random(int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((rnd.NextDouble() * 2 - 1) * scale)).ToArray();
int failures = 0;
foreach (var (m, k, n) in args.Contains("--timing-only") ? [] : new[] { (1, 1, 1), (7, 33, 17), (13, 384, 40), (37, 901, 50), (96, 1536, 384), (200, 384, 1152) })
{
    var w = Random(n * k, 0.1);
    var b = Random(n, 1);
    var x = Random(m * k, 2);
    float[]? firstInt = null, firstFloat = null;
    foreach (var table in tables)
    {
        var y = new float[m * n];
        var yAll = new float[m * n];
        var linear = Int16Linear.FromWeights(w, b, n, k, table);
        linear.Forward(x, y, m, threads: 1);
        linear.Forward(x, yAll, m, threads: Environment.ProcessorCount);
        if (!y.AsSpan().SequenceEqual(yAll)) { failures++; Console.WriteLine($"FAIL {table} {m}×{k}×{n}: threads changed the result"); }
        var packed = Int16Weights.Pack(w, b, n, k, table.Qgemm.Columns);
        var q = new short[k + 1];
        double worst = 0;
        for (int r = 0; r < m; r++)
        {
            float sx = Qgemm.Quantize(x.AsSpan(r * k, k), q);
            for (int c = 0; c < n; c++)
            {
                long sum = 0;
                for (int i = 0; i < k; i++)
                    sum += q[i] * (long)packed.Values[(c / packed.Width * packed.Pairs + i / 2) * 2 * packed.Width + (c % packed.Width) * 2 + i % 2];
                double expected = (double)sx * packed.Scales[c] * sum + b[c];
                double magnitude = (double)sx * packed.Scales[c] * Qgemm.Levels * Qgemm.Levels * k + 1;
                worst = Math.Max(worst, Math.Abs(y[r * n + c] - expected) / magnitude);
            }
        }
        var f = new float[m * n];
        Float32Linear.FromWeights(w, b, n, k, table).Forward(x, f, m, threads: Environment.ProcessorCount, gelu: true);
        bool same = (firstInt ??= y).AsSpan().SequenceEqual(y) && (firstFloat ??= f).AsSpan().SequenceEqual(f);
        bool ok = worst <= 1e-6 && same;
        if (!ok) failures++;
        Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {table} {m}×{k}×{n}: integer kernel within {worst:E1} of the sum's range; same bits as {tables[0]}: {same}");
    }
    if (Qgemm8.IsAvailable)
    {
        // The 8-bit layers: bytes (vpdpbusd) against the 16-bit kernels on the same 8-bit values.
        var expected = new float[m * n];
        Int16Linear.FromWeights(w, b, n, k, tables[0], Qgemm.ByteLevels).Forward(x, expected, m);
        var bytes = new float[m * n];
        Int16Linear.FromWeightsAsBytes(w, b, n, k).Forward(x, bytes, m, threads: Environment.ProcessorCount);
        bool same = expected.AsSpan().SequenceEqual(bytes);
        if (!same) failures++;
        Console.WriteLine($"{(same ? "ok  " : "FAIL")} bytes {m}×{k}×{n}: the 8-bit byte kernel gives the bits of the 16-bit kernels: {same}");
    }
}

Console.WriteLine();
double peak = TransformerEmbeddings.Benchmarks.FmaPeak.Gflops(1) / 2, peakAll = TransformerEmbeddings.Benchmarks.FmaPeak.Gflops(Environment.ProcessorCount) / 2; // GMAC/s
Console.WriteLine(string.Create(culture, $"fp32 FMA peak (this build's widest vectors, register-only loop): {peak:F0} GMAC/s on 1 thread, {peakAll:F0} on {Environment.ProcessorCount}"));
Console.WriteLine("| ISA | M×K×N | threads | fp32 GEMM GMAC/s (best) | % of FMA peak | 12-bit GEMM GMAC/s (best) | 12-bit / fp32 | 8-bit bytes GMAC/s (best) |");
Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|");
foreach (var table in tables.Where(t => t.Isa != InstructionSet.Scalar))
foreach (var (m, k, n) in timed)
{
    var w = Random(n * k, 0.05);
    var b = Random(n, 1);
    var x = Random(m * k, 1);
    var y = new float[m * n];
    var f32 = Float32Linear.FromWeights(w, b, n, k, table);
    var i16 = Int16Linear.FromWeights(w, b, n, k, table);
    var i8 = table.Avx512Vnni && Qgemm8.IsAvailable ? Int16Linear.FromWeightsAsBytes(w, b, n, k) : null;
    foreach (var threads in new[] { 1, Environment.ProcessorCount }.Distinct())
    {
        double tf = double.MaxValue, ti = double.MaxValue, tb = double.MaxValue;
        int reps = Math.Clamp((int)(2e9 / ((double)m * k * n)), 5, 2000);
        for (int r = 0; r < reps; r++)
        {
            var sw = Stopwatch.StartNew();
            f32.Forward(x, y, m, threads);
            tf = Math.Min(tf, sw.Elapsed.TotalSeconds);
            sw.Restart();
            i16.Forward(x, y, m, threads);
            ti = Math.Min(ti, sw.Elapsed.TotalSeconds);
            if (i8 is null) continue;
            sw.Restart();
            i8.Forward(x, y, m, threads);
            tb = Math.Min(tb, sw.Elapsed.TotalSeconds);
        }
        double macs = (double)m * k * n;
        var bytesColumn = i8 is null ? "—" : string.Create(culture, $"{macs / tb / 1e9:F0}");
        Console.WriteLine(string.Create(culture, $"| {table} | {m}×{k}×{n} | {threads} | {macs / tf / 1e9:F0} | {100 * macs / tf / 1e9 / (threads == 1 ? peak : peakAll):F0} % | {macs / ti / 1e9:F0} | {tf / ti:F2} | {bytesColumn} |"));
    }
}
return failures == 0 ? 0 : 1;

static string CpuModel() =>
    File.Exists("/proc/cpuinfo")
        ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?"
        : "?";

static string[] Flags() =>
    File.Exists("/proc/cpuinfo")
        ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(':', 2)[1].Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? []
        : [];

using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics.X86;
using TransformerEmbeddings.Kernels;

// The library's CPU GEMMs without libtorch, for machines where only this app can be copied (publish it self-contained):
// 1. checks the 12-bit integer kernel against the same integer arithmetic done in 64-bit (whatever instruction path
//    this CPU takes: AVX2 vpmaddwd, or AVX-VNNI vpdpwssd) and prints a checksum of its outputs, to compare between
//    paths (DOTNET_EnableAVXVNNI=0 forces the AVX2 one);
// 2. times the integer and the fp32 kernel on all-MiniLM-L6-v2's shapes, on 1 thread and on every core.
var culture = CultureInfo.InvariantCulture;
Console.WriteLine($"CPU: {CpuModel()}; {Environment.ProcessorCount} logical cores");
Console.WriteLine($"AVX2 {Avx2.IsSupported}, FMA {Fma.IsSupported}, AVX-VNNI {AvxVnni.IsSupported}, AVX-512F {Avx512F.IsSupported}; flags: {string.Join(' ', Flags().Where(f => f.Contains("vnni") || f.Contains("bf16") || f.Contains("amx")))}");
if (!Int16Gemm.IsSupported) { Console.WriteLine("no AVX2/FMA: the kernels cannot run here"); return 1; }

var rnd = new Random(42);
float[] Random(int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((rnd.NextDouble() * 2 - 1) * scale)).ToArray();
int failures = 0;
ulong checksum = 14695981039346656037UL;
foreach (var (m, k, n) in new[] { (1, 1, 1), (7, 33, 17), (13, 384, 40), (37, 901, 50), (96, 1536, 384), (200, 384, 1152) })
{
    var w = Random(n * k, 0.1);
    var b = Random(n, 1);
    var x = Random(m * k, 2);
    var linear = Int16Linear.FromWeights(w, b, n, k);
    var y = new float[m * n];
    var yAll = new float[m * n];
    linear.Forward(x, y, m, threads: 1);
    linear.Forward(x, yAll, m, threads: Environment.ProcessorCount);
    if (!y.AsSpan().SequenceEqual(yAll)) { failures++; Console.WriteLine($"FAIL {m}×{k}×{n}: threads changed the result"); }
    var packed = linear.Weights;
    var q = new short[k + 1];
    double worst = 0;
    for (int r = 0; r < m; r++)
    {
        float sx = Int16Gemm.Quantize(x.AsSpan(r * k, k), q);
        for (int c = 0; c < n; c++)
        {
            long sum = 0;
            for (int i = 0; i < k; i++)
                sum += q[i] * (long)packed.Packed[(c / Int16Gemm.PanelWidth * packed.Pairs + i / 2) * 2 * Int16Gemm.PanelWidth + (c % Int16Gemm.PanelWidth) * 2 + i % 2];
            double expected = (double)sx * packed.Scales[c] * sum + b[c];
            double magnitude = (double)sx * packed.Scales[c] * Int16Gemm.Levels * Int16Gemm.Levels * k + 1;
            worst = Math.Max(worst, Math.Abs(y[r * n + c] - expected) / magnitude);
        }
    }
    foreach (var v in y) checksum = (checksum ^ BitConverter.SingleToUInt32Bits(v)) * 1099511628211UL;
    bool ok = worst <= 1e-6;
    if (!ok) failures++;
    Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {m}×{k}×{n}: largest difference to the integer reference {worst:E1} of the sum's range");
}
Console.WriteLine($"output checksum (equal across instruction paths = bit-identical): {checksum:x16}");

Console.WriteLine();
Console.WriteLine("| M×K×N | threads | fp32 GEMM GMAC/s (best) | 12-bit GEMM GMAC/s (best) | ratio |");
Console.WriteLine("|---|---:|---:|---:|---:|");
foreach (var (m, k, n) in new[] { (16, 384, 1536), (768, 384, 1152), (768, 384, 1536), (768, 1536, 384), (4096, 384, 1536) })
{
    var w = Random(n * k, 0.05);
    var b = Random(n, 1);
    var x = Random(m * k, 1);
    var y = new float[m * n];
    var f32 = PackedLinear.FromWeights(w, b, n, k);
    var i16 = Int16Linear.FromWeights(w, b, n, k);
    foreach (var threads in new[] { 1, Environment.ProcessorCount }.Distinct())
    {
        double tf = double.MaxValue, ti = double.MaxValue;
        int reps = Math.Clamp((int)(2e9 / ((double)m * k * n)), 5, 2000);
        for (int r = 0; r < reps; r++)
        {
            var sw = Stopwatch.StartNew();
            f32.Forward(x, y, m, threads);
            tf = Math.Min(tf, sw.Elapsed.TotalSeconds);
            sw.Restart();
            i16.Forward(x, y, m, threads);
            ti = Math.Min(ti, sw.Elapsed.TotalSeconds);
        }
        double macs = (double)m * k * n;
        Console.WriteLine(string.Create(culture, $"| {m}×{k}×{n} | {threads} | {macs / tf / 1e9:F0} | {macs / ti / 1e9:F0} | {tf / ti:F2} |"));
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

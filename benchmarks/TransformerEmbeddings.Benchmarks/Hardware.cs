using System.Diagnostics;
using System.Text;
using System.Text.Json;
using TorchSharp;
using TransformerEmbeddings.Runtime;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Benchmarks;

/// <summary>The hardware yardstick (measured matmul peak) and a bert-base-sized forward measured against it.</summary>
internal static class Hardware
{
    /// <summary>Best GFLOP/s of (m×k)·(k×n) over a short loop.</summary>
    public static double MatmulGflops(long m, long k, long n, ScalarType dtype, double seconds = 1.5)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var a = randn(m, k).to(dtype);
        var b = randn(n, k).to(dtype); // (out, in) like a linear weight
        for (var i = 0; i < 2; i++) a.matmul(b.t()).Dispose();
        var best = double.MaxValue;
        var clock = Stopwatch.StartNew();
        var reps = 0;
        while (reps < 3 || clock.Elapsed.TotalSeconds < seconds)
        {
            var sw = Stopwatch.StartNew();
            a.matmul(b.t()).Dispose();
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
            if (++reps > 200) break;
        }
        return 2.0 * m * k * n / best / 1e9;
    }

    public static int Peak(Options o)
    {
        NativeRuntime.EnsureLoaded();
        torch.set_num_threads(o.Threads);
        Console.WriteLine($"CPU: {Machine.CpuModel()}; features: {Machine.Features()}; threads {o.Threads}");
        Console.WriteLine($"fp32 FMA peak (register-only chains): {FmaPeak.Gflops(o.Threads):F1} GFLOP/s on {o.Threads} threads, {FmaPeak.Gflops(1):F1} on 1");
        Console.WriteLine("| libtorch matmul m×k×n | fp32 GFLOP/s | bf16 GFLOP/s |");
        Console.WriteLine("|---|---:|---:|");
        foreach (var (m, k, n) in new (long, long, long)[] { (2048, 2048, 2048), (4096, 768, 3072), (4096, 3072, 768), (4096, 384, 1536), (1024, 384, 384) })
            Console.WriteLine($"| {m}×{k}×{n} | {MatmulGflops(m, k, n, ScalarType.Float32):F1} | {MatmulGflops(m, k, n, ScalarType.BFloat16, 0.5):F1} |");
        return 0;
    }

    /// <summary>Forward FLOPs of a BERT encoder (linear layers and the two attention matmuls; no embeddings/pooler).</summary>
    public static double ForwardFlops(int layers, int hidden, int inter, int b, int s)
    {
        double t = (double)b * s;
        return layers * (2 * t * (4.0 * hidden * hidden + 2.0 * hidden * inter) + 4.0 * b * (double)s * s * hidden);
    }

    public static int BertBase(Options o)
    {
        NativeRuntime.EnsureLoaded();
        torch.set_num_threads(o.Threads);
        Console.WriteLine($"CPU: {Machine.CpuModel()}; features: {Machine.Features()}; threads {o.Threads}");
        var folder = RandomBertBase();
        var fma = FmaPeak.Gflops(o.Threads);
        Console.WriteLine($"fp32 FMA peak ({o.Threads} threads, register-only chains): {fma:F1} GFLOP/s");
        var peak32 = MatmulGflops(4096, 768, 3072, ScalarType.Float32);
        var peak2048 = MatmulGflops(2048, 2048, 2048, ScalarType.Float32);
        var peak = Math.Max(peak32, peak2048);
        var peak16 = MatmulGflops(2048, 2048, 2048, ScalarType.BFloat16, 0.5);
        Console.WriteLine($"Measured matmul peak: fp32 {peak:F1} GFLOP/s (2048³ {peak2048:F1}, 4096×768×3072 {peak32:F1}); bf16 2048³ {peak16:F1} GFLOP/s");
        using var e = new TorchEmbedder(folder, o.ModelOptions(), "bert-base");
        Console.WriteLine($"bert-base (random weights, 12×768, 3072) load {e.LoadTime.TotalMilliseconds:F0} ms");
        // On a shared machine one peak measurement can land in a busy moment: re-measure it after every shape and
        // report each forward against the best peak seen in the whole run (so the percentages are conservative).
        var results = new List<(int B, int S, double Ms, double Flops)>();
        foreach (var (b, s) in o.Shapes ?? Compare.Grid)
        {
            var rows = Corpus.RandomIds(b, s, 30522);
            var times = Compare.Alternate([e], x => x.Forward(rows), o.GridSeconds, 3);
            results.Add((b, s, times[0].Min(), ForwardFlops(12, 768, 3072, b, s)));
            peak = Math.Max(peak, MatmulGflops(2048, 2048, 2048, ScalarType.Float32, 1));
            fma = Math.Max(fma, FmaPeak.Gflops(o.Threads));
        }
        Console.WriteLine($"Best fp32 FMA peak seen during the run: {fma:F1} GFLOP/s");
        Console.WriteLine($"Best fp32 matmul peak seen during the run: {peak:F1} GFLOP/s");
        Console.WriteLine("| B×S | best ms | GFLOP | GFLOP/s | % of the FMA peak | % of libtorch's fp32 matmul | % of its bf16 matmul |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var (b, s, ms, flops) in results)
            Console.WriteLine($"| {b}×{s} | {ms:F1} | {flops / 1e9:F1} | {flops / ms / 1e6:F1} | {flops / ms / 1e6 / fma * 100:F0}% | {flops / ms / 1e6 / peak * 100:F0}% | {flops / ms / 1e6 / peak16 * 100:F0}% |");
        return 0;
    }

    /// <summary>A bert-base-sized model folder with random weights (cached under the temp folder).</summary>
    public static string RandomBertBase()
    {
        var folder = Path.Combine(Path.GetTempPath(), "te-bench-bert-base-random");
        if (File.Exists(Path.Combine(folder, "model.safetensors"))) return folder;
        Directory.CreateDirectory(folder);
        const int vocab = 30522;
        var vocabLines = new List<string> { "[PAD]" };
        for (var i = 1; i < 100; i++) vocabLines.Add($"[unused{i}]");
        vocabLines.AddRange(["[UNK]", "[CLS]", "[SEP]", "[MASK]"]);
        while (vocabLines.Count < vocab) vocabLines.Add($"tok{vocabLines.Count}");
        File.WriteAllLines(Path.Combine(folder, "vocab.txt"), vocabLines);
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), """{"do_lower_case": true, "model_max_length": 512, "tokenizer_class": "BertTokenizer"}""");
        WriteRandomWeights(folder, "bert", vocab, positions: 512, types: 2, eps: 1e-12, padId: 0);
        return folder;
    }

    /// <summary>A roberta-base-sized model folder (50,265 tokens, 12×768) with random weights and roberta-base's tokenizer (from ../shared's roberta-tiny).</summary>
    public static string RandomRobertaBase()
    {
        var folder = Path.Combine(Path.GetTempPath(), "te-bench-roberta-base-random");
        if (File.Exists(Path.Combine(folder, "model.safetensors"))) return folder;
        Directory.CreateDirectory(folder);
        var tiny = Path.Combine(Corpus.SharedRoot(), "testmodels", "roberta-tiny");
        foreach (var f in new[] { "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json" })
            File.Copy(Path.Combine(tiny, f), Path.Combine(folder, f), overwrite: true);
        WriteRandomWeights(folder, "roberta", vocab: 50265, positions: 514, types: 1, eps: 1e-5, padId: 1);
        return folder;
    }

    /// <summary>config.json and model.safetensors of a base-sized (12×768, 3072) encoder with N(0, 0.02) weights.</summary>
    private static void WriteRandomWeights(string folder, string type, int vocab, int positions, int types, double eps, int padId)
    {
        const int h = 768, inter = 3072, layers = 12;
        var (pos, typeCount) = (positions, types);
        File.WriteAllText(Path.Combine(folder, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["architectures"] = new[] { type == "bert" ? "BertModel" : "RobertaModel" }, ["model_type"] = type, ["hidden_act"] = "gelu", ["layer_norm_eps"] = eps,
            ["max_position_embeddings"] = pos, ["pad_token_id"] = padId, ["type_vocab_size"] = typeCount, ["vocab_size"] = vocab,
            ["hidden_size"] = h, ["num_hidden_layers"] = layers, ["num_attention_heads"] = 12, ["intermediate_size"] = inter,
        }));

        var shapes = new List<(string, long[])>
        {
            ("embeddings.word_embeddings.weight", [vocab, h]), ("embeddings.position_embeddings.weight", [pos, h]),
            ("embeddings.token_type_embeddings.weight", [typeCount, h]), ("embeddings.LayerNorm.weight", [h]), ("embeddings.LayerNorm.bias", [h]),
        };
        for (var l = 0; l < layers; l++)
        {
            var p = $"encoder.layer.{l}.";
            foreach (var n in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
            {
                shapes.Add((p + n + ".weight", [h, h]));
                shapes.Add((p + n + ".bias", [h]));
            }
            shapes.Add((p + "attention.output.LayerNorm.weight", [h])); shapes.Add((p + "attention.output.LayerNorm.bias", [h]));
            shapes.Add((p + "intermediate.dense.weight", [inter, h])); shapes.Add((p + "intermediate.dense.bias", [inter]));
            shapes.Add((p + "output.dense.weight", [h, inter])); shapes.Add((p + "output.dense.bias", [h]));
            shapes.Add((p + "output.LayerNorm.weight", [h])); shapes.Add((p + "output.LayerNorm.bias", [h]));
        }
        shapes.Add(("pooler.dense.weight", [h, h])); shapes.Add(("pooler.dense.bias", [h]));

        // safetensors: u64 header length, JSON header, raw little-endian data.
        var header = new Dictionary<string, object>();
        long offset = 0;
        foreach (var (name, shape) in shapes)
        {
            var bytes = shape.Aggregate(1L, (a, b) => a * b) * 4;
            header[name] = new Dictionary<string, object> { ["dtype"] = "F32", ["shape"] = shape, ["data_offsets"] = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        var pad = (8 - json.Length % 8) % 8;
        json = [.. json, .. Enumerable.Repeat((byte)' ', pad)];
        var tmp = Path.Combine(folder, "model.safetensors.tmp");
        using (var fs = File.Create(tmp))
        {
            fs.Write(BitConverter.GetBytes((ulong)json.Length));
            fs.Write(json);
            using var scope = NewDisposeScope();
            var gen = new torch.Generator(42);
            using var init = Scalars.Constant(0.02f);
            foreach (var (name, shape) in shapes)
            {
                using var t = name.EndsWith("LayerNorm.weight", StringComparison.Ordinal) ? ones(shape)
                    : name.EndsWith("bias", StringComparison.Ordinal) ? zeros(shape)
                    : randn(shape, generator: gen).mul_(init);
                fs.Write(t.contiguous().bytes);
            }
        }
        File.Move(tmp, Path.Combine(folder, "model.safetensors"), true);
    }
}

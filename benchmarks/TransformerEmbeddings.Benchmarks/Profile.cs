using System.Diagnostics;
using TorchSharp;
using TransformerEmbeddings.Runtime;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Benchmarks;

/// <summary><c>profile</c>: where one MiniLM forward's time goes (whole call vs its matmuls, attention and the rest alone).</summary>
internal static class Profile
{
    private static double Best(Action a, int reps)
    {
        a(); a();
        var best = double.MaxValue;
        for (var i = 0; i < reps; i++)
        {
            var sw = Stopwatch.StartNew();
            a();
            best = Math.Min(best, sw.Elapsed.TotalMilliseconds);
        }
        return best;
    }

    /// <summary>Per-step time of a replica of the layer loop (same ops, same weights), summed over reps.</summary>
    private static void Breakdown(TransformerModel model, EncoderInputs inputs)
    {
        static Tensor Lin(Tensor a, Tensor w, Tensor bias) => nn.functional.linear(a, w, bias);
        var m = (TransformerEmbeddings.Modeling.BertModel)model.Module;
        var cfg = model.Config;
        var (b, s, h, nh) = (inputs.BatchSize, inputs.SequenceLength, cfg.HiddenSize, cfg.NumAttentionHeads);
        var names = new[] { "embeddings", "qkv linear", "split views", "sdpa", "merge heads", "attn out linear+add", "LN", "up linear", "gelu", "down linear+add", "LN2" };
        var acc = new double[names.Length];
        using var im = inference_mode();
        using var init = Scalars.Constant(0.02);
        var upW = randn(cfg.IntermediateSize, h).mul_(init); var upB = randn(cfg.IntermediateSize); var dnW = randn(h, cfg.IntermediateSize).mul_(init); var dnB = randn(h);
        var total = Math.Max(30, 200 / (b * s / 16));
        for (var rep = 0; rep < total; rep++)
        {
            using var sc = NewDisposeScope();
            var sw = Stopwatch.StartNew();
            void Lap(int i) { if (rep >= 10) acc[i] += sw.Elapsed.TotalMilliseconds; sw.Restart(); }
            var positions = m.Embeddings.PositionIds(inputs.AttentionMask);
            var x = m.Embeddings.forward(m.Embeddings.WordEmbeddings.call(inputs.InputIds), inputs.TokenTypeIds, positions);
            Lap(0);
            foreach (var layer in m.Encoder.Layers)
            {
                var at = layer.Attention;
                var wq = cat([at.Self.Query.Weight, at.Self.Key.Weight, at.Self.Value.Weight]); var bq = cat([at.Self.Query.Bias, at.Self.Key.Bias, at.Self.Value.Bias]);
                sw.Restart();
                var p = Lin(x, wq, bq); Lap(1);
                var qkv = p.view(b, s, 3, nh, h / nh).permute(2, 0, 3, 1, 4); var q = qkv[0]; var k = qkv[1]; var v = qkv[2]; Lap(2);
                var c = nn.functional.scaled_dot_product_attention(q, k, v); Lap(3);
                var merged = c.transpose(1, 2).reshape(b, s, h); Lap(4);
                var d = at.Output.DenseLayer.call(merged).add_(x, Scalars.One); Lap(5);
                var a = nn.functional.layer_norm(d, [h], ones(h), zeros(h), 1e-12); Lap(6);
                var up = Lin(a, upW, upB); Lap(7);
                up.gelu_(); Lap(8);
                var down = Lin(up, dnW, dnB).add_(a, Scalars.One); Lap(9);
                x = nn.functional.layer_norm(down, [h], ones(h), zeros(h), 1e-12); Lap(10);
            }
        }
        for (var i = 0; i < names.Length; i++) Console.WriteLine($"  {names[i],-22} {acc[i] / (total - 10):F3} ms per forward");
        Console.WriteLine($"  {"total",-22} {acc.Sum() / (total - 10):F3} ms");
    }


    public static int Run(Options o)
    {
        NativeRuntime.EnsureLoaded();
        torch.set_num_threads(o.Threads);
        var folder = o.Rest.Contains("bert-base") ? Hardware.RandomBertBase() : Corpus.MiniLmFolder;
        using var e = new TorchEmbedder(folder, o.ModelOptions());
        var cfg = e.Model.Config;
        var (h, inter, L, nh) = (cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHiddenLayers, cfg.NumAttentionHeads);
        using var ort = folder == Corpus.MiniLmFolder ? new OrtEmbedder(o.Threads) : null;
        if (o.Rest.Contains("small"))
        {
            var shape = (Environment.GetEnvironmentVariable("TE_PROFILE_SHAPE") ?? "1x16").Split('x').Select(int.Parse).ToArray();
            var rows1 = Corpus.RandomIds(shape[0], shape[1], 30522);
            using var inputs = EncoderInputs.Create(rows1, 0);
            var m = (TransformerEmbeddings.Modeling.BertModel)e.Model.Module;
            var positions = m.Embeddings.PositionIds(inputs.AttentionMask);
            var engines = new List<(string, Action)>
            {
                ("public Forward", () => e.Forward(rows1)),
                ("model.Encode(prebuilt inputs)", () => e.Model.Encode(inputs).Dispose()),
                ("BertModel.forward direct", () =>
                {
                    using var sc = NewDisposeScope();
                    using var im = inference_mode();
                    m.forward(inputs.InputIds, null, inputs.AttentionMask, inputs.TokenTypeIds, positions, null);
                }),
            };
            if (ort is not null) engines.Add(("ORT", () => ort.Forward(rows1)));
            var ts = engines.Select(_ => new List<double>()).ToArray();
            for (var rep = 0; rep < Math.Max(10, 300 / (shape[0] * shape[1] / 16)); rep++)
                for (var k = 0; k < engines.Count; k++)
                {
                    var sw = Stopwatch.StartNew();
                    engines[k].Item2();
                    ts[k].Add(sw.Elapsed.TotalMilliseconds);
                }
            for (var k = 0; k < engines.Count; k++)
                Console.WriteLine($"{engines[k].Item1}: min {ts[k].Min():F3} ms, median {Compare.Median(ts[k]):F3} ms");
            Breakdown(e.Model, inputs);
            return 0;
        }
        Console.WriteLine("| B×S | Forward (public) | ORT | matmuls alone | fused-QKV matmuls | SDPA alone | LN+GELU+add alone |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var (b, s) in Compare.Grid)
        {
            var reps = Math.Max(3, (int)(200 / Math.Max(1, b * s / 64.0)));
            var rows = Corpus.RandomIds(b, s, 30522);
            var full = Best(() => e.Forward(rows), reps);
            var ortMs = ort is null ? double.NaN : Best(() => ort.Forward(rows), reps);
            using var scope = NewDisposeScope();
            using var _ = inference_mode();
            var t = b * s;
            var x = randn(t, h);
            var xi = randn(t, inter);
            var wq = randn(h, h); var w3 = randn(3 * h, h); var wi = randn(inter, h); var wo = randn(h, inter); var bias = randn(h);
            var b3 = randn(3 * h); var bi = randn(inter);
            var mm = Best(() =>
            {
                using var s2 = NewDisposeScope();
                for (var l = 0; l < L; l++)
                {
                    for (var k = 0; k < 4; k++) nn.functional.linear(x, wq, bias);
                    nn.functional.linear(x, wi, bi);
                    nn.functional.linear(xi, wo, bias);
                }
            }, reps);
            var mmFused = Best(() =>
            {
                using var s2 = NewDisposeScope();
                for (var l = 0; l < L; l++)
                {
                    nn.functional.linear(x, w3, b3);
                    nn.functional.linear(x, wq, bias);
                    nn.functional.linear(x, wi, bi);
                    nn.functional.linear(xi, wo, bias);
                }
            }, reps);
            var q = randn(b, nh, s, h / nh);
            var mask = zeros(b, 1, 1, s);
            var sdpa = Best(() =>
            {
                using var s2 = NewDisposeScope();
                for (var l = 0; l < L; l++) nn.functional.scaled_dot_product_attention(q, q, q, mask);
            }, reps);
            var lnw = ones(h); var lnb = zeros(h);
            var rest = Best(() =>
            {
                using var s2 = NewDisposeScope();
                for (var l = 0; l < L; l++)
                {
                    nn.functional.layer_norm(x.add(x, Scalars.One), [h], lnw, lnb, 1e-12);
                    nn.functional.layer_norm(x.add(x, Scalars.One), [h], lnw, lnb, 1e-12);
                    xi.gelu();
                    q.transpose(1, 2).reshape(b, s, h);
                }
            }, reps);
            Console.WriteLine($"| {b}×{s} | {full:F2} | {ortMs:F2} | {mm:F2} | {mmFused:F2} | {sdpa:F2} | {rest:F2} |");
        }
        return 0;
    }
}

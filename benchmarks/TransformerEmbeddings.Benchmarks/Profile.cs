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

    public static int Run(Options o)
    {
        NativeRuntime.EnsureLoaded();
        torch.set_num_threads(o.Threads);
        var folder = o.Rest.Contains("bert-base") ? Hardware.RandomBertBase() : Corpus.MiniLmFolder;
        using var e = new TorchEmbedder(folder, o.ModelOptions());
        var cfg = e.Model.Config;
        var (h, inter, L, nh) = (cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHiddenLayers, cfg.NumAttentionHeads);
        using var ort = folder == Corpus.MiniLmFolder ? new OrtEmbedder(o.Threads) : null;
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
                    nn.functional.layer_norm(x + x, [h], lnw, lnb, 1e-12);
                    nn.functional.layer_norm(x + x, [h], lnw, lnb, 1e-12);
                    xi.gelu();
                    q.transpose(1, 2).reshape(b, s, h);
                }
            }, reps);
            Console.WriteLine($"| {b}×{s} | {full:F2} | {ortMs:F2} | {mm:F2} | {mmFused:F2} | {sdpa:F2} | {rest:F2} |");
        }
        return 0;
    }
}

using System.Diagnostics;
using TorchSharp;
using TransformerEmbeddings.Runtime;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Benchmarks;

/// <summary><c>gemm</c>: linear-layer GEMM variants on the model's shapes (developer probe).</summary>
internal static class GemmProbe
{
    private static double Best(Action a, int reps)
    {
        a(); a();
        var best = double.MaxValue;
        for (var i = 0; i < reps; i++) { var sw = Stopwatch.StartNew(); a(); best = Math.Min(best, sw.Elapsed.TotalMilliseconds); }
        return best;
    }

    public static int Run(Options o)
    {
        NativeRuntime.EnsureLoaded();
        torch.set_num_threads(o.Threads);
        using var _ = inference_mode();
        if (o.Rest.Contains("cpuattn"))
        {
            // The library's attention kernel alone on bert-base and MiniLM shapes: ms and GFLOP/s of its two products.
            Console.WriteLine("| B×nh×S×hd | CpuAttention ms (best) | GFLOP/s (4·B·S²·H) |");
            Console.WriteLine("|---|---:|---:|");
            foreach (var (b, nh, s, hd) in new[] { (32, 12, 12, 32), (32, 12, 16, 32), (32, 12, 24, 32), (32, 12, 32, 32), (32, 12, 48, 32), (32, 12, 64, 32), (32, 12, 128, 32), (8, 12, 512, 32), (32, 12, 128, 64), (8, 12, 512, 64) })
            {
                using var scope = NewDisposeScope();
                var kernel = new TransformerEmbeddings.Kernels.Attention.CpuAttention(nh, hd, TransformerEmbeddings.Kernels.KernelTable.For(o.Isa ?? TransformerEmbeddings.Kernels.KernelTable.Best));
                var proj = randn(new long[] { b, s, 3 * nh * hd });
                var t = Best(() => kernel.Forward(proj, null, null, null).Dispose(), 10);
                Console.WriteLine($"| {b}×{nh}×{s}×{hd} | {t:F3} | {4.0 * b * s * s * nh * hd / t / 1e6:F0} | {t * 1e6 / (b * nh):F0} ns/item |");
            }
            return 0;
        }
        if (o.Rest.Contains("attn"))
        {
            Console.WriteLine("| B×nh×S×hd | SDPA ms | SDPA+mask ms | eager (matmul, softmax, matmul)+mask ms | max abs diff |");
            Console.WriteLine("|---|---:|---:|---:|---:|");
            foreach (var (b, nh, s, hd) in new[] { (1, 12, 16, 32), (32, 12, 16, 32), (32, 12, 32, 32), (32, 12, 64, 32), (32, 12, 128, 32), (8, 12, 512, 32), (32, 12, 128, 64), (8, 12, 512, 64) })
            {
                using var scope = NewDisposeScope();
                var proj = randn(new long[] { b, s, 3 * nh * hd });
                var q = proj.view(b, s, 3, nh, hd).permute(2, 0, 3, 1, 4);
                var (qq, kk, vv) = (q[0], q[1], q[2]);
                var mask = zeros(b, 1, 1, s);
                var reps = Math.Max(5, 2000 / (b * s));
                var t1 = Best(() => nn.functional.scaled_dot_product_attention(qq, kk, vv).Dispose(), reps);
                var t2 = Best(() => nn.functional.scaled_dot_product_attention(qq, kk, vv, mask).Dispose(), reps);
                Tensor Eager()
                {
                    using var sc = NewDisposeScope();
                    var scores = qq.matmul(kk.transpose(-1, -2));
                    using var scale = Scalars.Constant(Math.Sqrt(hd));
                    scores.div_(scale).add_(mask, Scalars.One);
                    return sc.MoveToOuter(scores.softmax(-1).matmul(vv));
                }
                var t3 = Best(() => Eager().Dispose(), reps);
                var (qc, kc, vc) = (qq.contiguous(), kk.contiguous(), vv.contiguous());
                var t5 = Best(() => nn.functional.scaled_dot_product_attention(qc, kc, vc, mask).Dispose(), reps);
                var t6 = Best(() =>
                {
                    using var sc = NewDisposeScope();
                    nn.functional.scaled_dot_product_attention(qq.contiguous(), kk.contiguous(), vv.contiguous(), mask);
                }, reps);
                var diff = (Eager() - nn.functional.scaled_dot_product_attention(qq, kk, vv, mask)).abs().max().item<float>();
                Console.WriteLine($"| {b}×{nh}×{s}×{hd} | {t1:F3} | {t2:F3} | {t3:F3} | {diff:E1} | contiguous q,k,v: {t5:F3}, incl. copies {t6:F3} |");
            }
            return 0;
        }
        Console.WriteLine("| T×in×out | linear | addmm(W^T contig) | matmul+add | GFLOP/s best | mm without bias ms |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        foreach (var t in o.Rest.Contains("small") ? new[] { 1, 8, 16, 32 } : new[] { 16, 1024, 4096 })
        foreach (var (i, n) in new[] { (384, 1152), (384, 1536), (1536, 384) })
        {
            using var scope = NewDisposeScope();
            var x = randn(t, i); var w = randn(n, i); var wt = w.t().contiguous(); var b = randn(n);
            var reps = t == 16 ? 300 : 20;
            var a1 = Best(() => nn.functional.linear(x, w, b).Dispose(), reps);
            var a2 = Best(() => addmm(b, x, wt, 1, 1).Dispose(), reps);
            var a3 = Best(() => { using var y = x.matmul(wt); y.add_(b, Scalars.One); }, reps);
            var best = Math.Min(a1, Math.Min(a2, a3));
            var a4 = Best(() => { using var y = torch.mm(x, wt); }, reps);
            Console.WriteLine($"| {t}×{i}×{n} | {a1:F3} | {a2:F3} | {a3:F3} | {2.0 * t * i * n / best / 1e6:F0} | {a4:F3} ({2.0 * t * i * n / a4 / 1e6:F0} GFLOP/s) |");
        }
        return 0;
    }
}

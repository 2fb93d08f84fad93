using BenchmarkDotNet.Running;
using TransformerEmbeddings.Benchmarks;

var command = args.Length > 0 ? args[0] : "help";
var rest = args.Skip(1).ToArray();
switch (command)
{
    case "compare":
        return Compare.Run(Options.Parse(rest));
    case "cli":
        return CliCompare.Run(Options.Parse(rest));
    case "first-vector":
    {
        var o = Options.Parse(rest);
        return Compare.FirstVector(o, o.Engine);
    }
    case "peak":
        return Hardware.Peak(Options.Parse(rest));
    case "bert-base":
        return Hardware.BertBase(Options.Parse(rest));
    case "profile":
        return Profile.Run(Options.Parse(rest));
    case "gemm":
        return GemmProbe.Run(Options.Parse(rest));
    case "pipeline":
        return Pipeline.Run(Options.Parse(rest));
    case "valuespace":
        return ValueSpaceBenchmarks.Run();
    case "bdn":
        BenchmarkSwitcher.FromAssembly(typeof(Compare).Assembly).Run(rest);
        return 0;
    default:
        Console.WriteLine("""
            TransformerEmbeddings benchmarks
              compare   [--threads N] [--mode exact|fast] [--reps R] [--sentences N] [--no-grid] [--no-sts] [--no-startup] [--with-libtorch]
                        [--isa scalar|avx2|avx512|none] [--no-avx512-vnni] [--with-intrinsics]
                        this library vs ONNX Runtime side by side: load, forward grid, STS corpus, cosine, RSS, first vector
              cli       [--mode exact|fast] [--reps R] [--sentences N] [--te-build]
                        te embed and the ONNX Runtime console (ort-embed) as whole processes on the STS dev file, alternating
              peak      [--threads N]   measured fp32 / bf16 matmul GFLOP/s (the hardware yardstick)
              bert-base [--threads N] [--shapes BxS,…] [--grid-seconds T]  random bert-base (12×768, 3072): forward GFLOP/s vs the measured peak
              pipeline  [--mode exact|fast] [--texts N] [--no-search] [--no-stream]
                        padding with and without token-budget batches (STS dev), semantic search on 100k × 384, texts/s and RSS over N texts
              valuespace               vocabulary in value space on a random roberta-base: ms per search of 12 heads, peak RSS
              bdn       <BenchmarkDotNet args>, e.g. bdn --filter '*' --job short
            """);
        return command == "help" ? 0 : 1;
}

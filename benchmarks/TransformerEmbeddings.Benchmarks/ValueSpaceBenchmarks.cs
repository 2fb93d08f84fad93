using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using TransformerEmbeddings.Analysis;
using TransformerEmbeddings.Inspection;

namespace TransformerEmbeddings.Benchmarks;

/// <summary>
/// Vocabulary in value space on a roberta-base-sized model (random weights, 50,265 tokens, 12 heads × 64): one token's
/// 10 nearest tokens per head under both metrics (<c>bdn --filter '*ValueSpace*'</c>), and the growth of the process's
/// peak memory while searching (<c>valuespace</c>).
/// </summary>
[MemoryDiagnoser]
[WarmupCount(1)]
[IterationCount(5)]
public class ValueSpaceBenchmarks
{
    private TransformerModel model = null!;
    private EncoderOutput output = null!;
    private ValueSpace space = null!;

    /// <summary>Heads searched per call.</summary>
    [Params(1, 12)]
    public int Heads { get; set; }

    /// <summary>Loads the model and encodes one sentence with layer 6's contexts.</summary>
    [GlobalSetup]
    public void Setup()
    {
        Runtime.NativeRuntime.EnsureLoaded(); // the random weights are made with libtorch before any model loads it
        model = TransformerModel.Load(Hardware.RandomRobertaBase());
        output = model.Encode(["The bank will not lend money near the river bank."], new CaptureOptions { Kinds = ActivationKind.Contexts, Layers = [6] });
        space = new ValueSpace(model, 6);
    }

    /// <summary>Releases the model.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        output.Dispose();
        model.Dispose();
    }

    /// <summary>Top 10 by cosine and Euclidean distance, with self ranks.</summary>
    [Benchmark]
    public int Nearest() => space.Nearest(output, 0, 2, new NearestOptions { Heads = Enumerable.Range(0, Heads).ToArray() }).Heads.Count;

    /// <summary>Times one search of every head and prints the peak RSS before and after (the chunked projection keeps it flat).</summary>
    public static int Run()
    {
        var b = new ValueSpaceBenchmarks { Heads = 12 };
        b.Setup();
        var before = Machine.PeakRssMiB();
        b.Nearest();
        var clock = Stopwatch.StartNew();
        const int reps = 5;
        for (var i = 0; i < reps; i++) b.Nearest();
        var ms = clock.Elapsed.TotalMilliseconds / reps;
        Console.WriteLine($"value space, roberta-base size (V=50265, 12 heads, both metrics, k=10): {ms:F0} ms per search; " +
                          $"peak RSS {before:F0} MiB after load, {Machine.PeakRssMiB():F0} MiB after searching");
        b.Cleanup();
        return 0;
    }
}

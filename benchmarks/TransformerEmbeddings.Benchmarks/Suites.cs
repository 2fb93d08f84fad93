using BenchmarkDotNet.Attributes;
using TransformerEmbeddings.Tokenization;
using TorchSharp;
using TransformerEmbeddings.Runtime;

namespace TransformerEmbeddings.Benchmarks;

// BenchmarkDotNet suites: `dotnet run -c Release --project benchmarks/TransformerEmbeddings.Benchmarks -- bdn --filter '*' --job short`.
// The thread count comes from TE_THREADS (default: all cores) and is applied to both engines.

internal static class Bdn
{
    public static int Threads => int.TryParse(Environment.GetEnvironmentVariable("TE_THREADS"), out var t) ? t : Environment.ProcessorCount;

    public static void InitTorch()
    {
        NativeRuntime.EnsureLoaded();
        torch.set_num_threads(Threads);
    }
}

/// <summary>Model load: our safetensors loader vs an ONNX Runtime session over the same model.</summary>
[MemoryDiagnoser]
public class LoadBenchmarks
{
    private byte[] onnx = [];

    [GlobalSetup]
    public void Setup()
    {
        Bdn.InitTorch();
        onnx = OrtEmbedder.ReadModel();
    }

    [Benchmark(Baseline = true)]
    public void TorchSharpLoad()
    {
        using var m = TransformerModel.Load(Corpus.MiniLmFolder);
    }

    [Benchmark]
    public void OnnxRuntimeSession()
    {
        using var e = new OrtEmbedder(Bdn.Threads, onnx);
    }
}

/// <summary>Encoder forward from ids on the B×S grid, both engines.</summary>
public class ForwardBenchmarks
{
    private TorchEmbedder ours = null!;
    private OrtEmbedder ort = null!;
    private int[][] rows = [];

    [Params("1x16", "32x32", "32x128", "8x512")]
    public string Shape { get; set; } = "1x16";

    [GlobalSetup]
    public void Setup()
    {
        Bdn.InitTorch();
        ours = new TorchEmbedder(Corpus.MiniLmFolder);
        ort = new OrtEmbedder(Bdn.Threads);
        var p = Shape.Split('x');
        rows = Corpus.RandomIds(int.Parse(p[0]), int.Parse(p[1]), 30522);
    }

    [Benchmark(Baseline = true)]
    public void TorchSharp() => ours.Forward(rows);

    [Benchmark]
    public void OnnxRuntime() => ort.Forward(rows);

    [GlobalCleanup]
    public void Cleanup()
    {
        ours.Dispose();
        ort.Dispose();
    }
}

/// <summary>End to end on the STS-benchmark dev sentences: tokenize, length-sorted batches of 32, forward, mean pool, normalise.</summary>
public class StsEmbeddingBenchmarks
{
    private TorchEmbedder ours = null!;
    private OrtEmbedder ort = null!;
    private List<string> sentences = [];
    private TransformerTokenizer tok = null!;

    [GlobalSetup]
    public void Setup()
    {
        Bdn.InitTorch();
        ours = new TorchEmbedder(Corpus.MiniLmFolder);
        ort = new OrtEmbedder(Bdn.Threads);
        sentences = Corpus.StsSentences();
        tok = Corpus.Tokenizer(Corpus.MiniLmFolder);
    }

    private float[][] Embed(IEmbedder e)
    {
        var ids = sentences.Select(s => Corpus.Encode(tok, s)).ToList();
        var result = new float[ids.Count][];
        foreach (var batch in Corpus.LengthSortedBatches(ids, 32))
        {
            var v = e.Embed(batch.Select(i => ids[i]).ToArray());
            for (var k = 0; k < batch.Length; k++) result[batch[k]] = v[k];
        }
        return result;
    }

    [Benchmark(Baseline = true)]
    public float[][] TorchSharp() => Embed(ours);

    [Benchmark]
    public float[][] OnnxRuntime() => Embed(ort);

    [GlobalCleanup]
    public void Cleanup()
    {
        ours.Dispose();
        ort.Dispose();
    }
}

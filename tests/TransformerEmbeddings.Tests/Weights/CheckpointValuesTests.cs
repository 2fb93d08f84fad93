using System.Runtime.InteropServices;
using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Weights;
using Xunit;

namespace TransformerEmbeddings.Tests.Weights;

/// <summary>
/// The checkpoint is checked for NaN and ±Inf once, before libtorch is needed (a model load does it while libtorch
/// loads): a damaged tensor the model takes is refused by name, one it does not take is no error; and the size of the
/// layers' matrices that the kernels will pack is known from the headers alone.
/// </summary>
public sealed class CheckpointValuesTests : IDisposable
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), "te-values-" + Guid.NewGuid().ToString("N"));

    public CheckpointValuesTests()
    {
        Directory.CreateDirectory(folder);
        foreach (var f in Directory.GetFiles(SharedData.Model("bert-tiny-uncased")))
            File.Copy(f, Path.Combine(folder, Path.GetFileName(f)));
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);

    /// <summary>Rewrites model.safetensors with one more F32 tensor and, optionally, one value of a tensor replaced.</summary>
    private void Rewrite(string extraName, float[] extra, string? poke = null, int at = 0, float value = 0)
    {
        var path = Path.Combine(folder, "model.safetensors");
        var entries = new List<SafeTensorEntry>();
        using (var file = SafeTensorsFile.Open(path))
        {
            foreach (var info in file.Tensors)
            {
                var bytes = file.GetBytes(info).ToArray();
                if (info.Name == poke) MemoryMarshal.Cast<byte, float>(bytes.AsSpan())[at] = value;
                entries.Add(new SafeTensorEntry(info.Name, info.DType, info.Shape, bytes));
            }
        }
        entries.Add(new SafeTensorEntry(extraName, SafeTensorsDType.F32, [extra.Length], MemoryMarshal.AsBytes(extra.AsSpan()).ToArray()));
        SafeTensorsWriter.Write(path, entries);
    }

    [Fact]
    public void A_damaged_tensor_the_model_does_not_take_is_no_error()
    {
        Rewrite("unused.extra", [1, float.NaN, float.PositiveInfinity]);
        using var model = TransformerModel.Load(folder);
        Assert.Contains("unused.extra", model.Checkpoint.UnusedTensors);
        using var output = model.Encode(["still fine"]);
        Assert.False(output.LastHiddenState.isnan().any().item<bool>());
    }

    [Fact]
    public void A_damaged_tensor_the_model_takes_is_refused_with_its_name_and_element()
    {
        Rewrite("unused.extra", [1], poke: "encoder.layer.1.output.dense.weight", at: 77, value: float.NegativeInfinity);
        var e = Assert.Throws<WeightLoadingException>(() => TransformerModel.Load(folder));
        Assert.Contains("encoder.layer.1.output.dense.weight", e.Message);
        Assert.Contains("element 77 ", e.Message);
        Assert.Contains("-Inf", e.Message);
    }

    [Fact]
    public void The_layers_matrices_are_counted_from_the_headers()
    {
        var config = TransformerEmbeddings.Configuration.EncoderConfig.Load(SharedData.Model("all-MiniLM-L6-v2"));
        using var loader = CheckpointLoader.Open(SharedData.Model("all-MiniLM-L6-v2"), config.Architecture);
        long h = config.HiddenSize, i = config.IntermediateSize;
        Assert.Equal(config.NumHiddenLayers * (4 * h * h + 2 * h * i), loader.LayerMatrixValues());
    }
}

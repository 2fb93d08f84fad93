using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Weights;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Modeling;

/// <summary>The loader's mapping (prefixes, legacy names, shards, dtypes, heads) and its errors.</summary>
public sealed class CheckpointLoadingTests : IDisposable
{
    private readonly string temp = Path.Combine(Path.GetTempPath(), "te-ckpt-" + Guid.NewGuid().ToString("N"));

    public CheckpointLoadingTests() => Directory.CreateDirectory(temp);

    public void Dispose() => Directory.Delete(temp, recursive: true);

    [Theory]
    [InlineData("all-MiniLM-L6-v2", "", 1, SafeTensorsDType.F32, true, false, false)]
    [InlineData("bert-tiny-uncased", "", 1, SafeTensorsDType.F32, true, false, false)]
    [InlineData("bert-tiny-cased-sharded", "bert.", 2, SafeTensorsDType.BF16, false, true, true)]
    [InlineData("roberta-tiny", "roberta.", 1, SafeTensorsDType.F16, true, true, false)]
    public void Each_test_model_loads_the_way_its_folder_is_laid_out(
        string model, string prefix, int files, SafeTensorsDType dtype, bool pooler, bool mlmHead, bool legacy)
    {
        var report = ModelCache.Get(model).Checkpoint;
        Assert.Equal(prefix, report.KeyPrefix);
        Assert.Equal(files, report.Files.Count);
        Assert.Equal(dtype, report.SourceDType);
        Assert.Equal(pooler, report.HasPooler);
        Assert.Equal(mlmHead, report.HasMaskedLanguageModelHead);
        Assert.Equal(legacy, report.UsedLegacyLayerNormNames);
        Assert.Equal(ScalarType.Float32, ModelCache.Get(model).DType);
        // Only heads and buffers are left over, never an encoder weight.
        Assert.All(report.UnusedTensors, k => Assert.DoesNotContain(".encoder.", "." + k[prefix.Length..]));
    }

    [Fact]
    public void Buffers_and_heads_the_encoder_does_not_run_are_reported_as_unused()
    {
        Assert.Contains("embeddings.position_ids", ModelCache.Get("bert-tiny-uncased").Checkpoint.UnusedTensors);
        var cased = ModelCache.Get("bert-tiny-cased-sharded").Checkpoint.UnusedTensors;
        Assert.Contains(cased, k => k.StartsWith("cls.seq_relationship", StringComparison.Ordinal)); // the NSP head
        Assert.DoesNotContain(cased, k => k.StartsWith("cls.predictions", StringComparison.Ordinal)); // the MLM head is loaded
        Assert.Empty(ModelCache.Get("roberta-tiny").Checkpoint.UnusedTensors);                        // lm_head is loaded
    }

    [Fact]
    public void Load_time_of_the_real_model_is_recorded()
    {
        var m = ModelCache.Get("all-MiniLM-L6-v2");
        Assert.True(m.LoadTime > TimeSpan.Zero);
    }

    /// <summary>Copies a tiny model folder, rewriting its weights through <paramref name="edit"/>.</summary>
    private string CopyWithWeights(Func<List<SafeTensorEntry>, List<SafeTensorEntry>> edit)
    {
        var source = SharedData.Model("bert-tiny-uncased");
        foreach (var f in Directory.GetFiles(source)) File.Copy(f, Path.Combine(temp, Path.GetFileName(f)));
        List<SafeTensorEntry> entries;
        using (var file = SafeTensorsFile.Open(Path.Combine(source, "model.safetensors")))
            entries = file.Tensors.Select(t => new SafeTensorEntry(t.Name, t.DType, t.Shape, file.GetBytes(t.Name).ToArray())).ToList();
        SafeTensorsWriter.Write(Path.Combine(temp, "model.safetensors"), edit(entries));
        return temp;
    }

    [Fact]
    public void A_missing_tensor_is_named_with_its_expected_shape()
    {
        var folder = CopyWithWeights(e => e.Where(t => t.Name != "encoder.layer.1.attention.self.key.weight").ToList());
        var ex = Assert.Throws<WeightLoadingException>(() => TransformerModel.Load(folder));
        Assert.Equal("encoder.layer.1.attention.self.key.weight", ex.TensorName);
        Assert.Contains("[64, 64]", ex.Message);
    }

    [Fact]
    public void A_wrong_shape_names_the_tensor_expected_and_actual()
    {
        var folder = CopyWithWeights(e => e.Select(t => t.Name == "pooler.dense.bias"
            ? t with { Shape = [32], Data = t.Data[..(32 * 4)] }
            : t).ToList());
        var ex = Assert.Throws<WeightLoadingException>(() => TransformerModel.Load(folder));
        Assert.Equal("pooler.dense.bias", ex.TensorName);
        Assert.Contains("expected [64], found [32]", ex.Message);
    }

    [Fact]
    public void Legacy_gamma_beta_names_and_a_prefix_load_the_same_numbers()
    {
        var folder = CopyWithWeights(e => e.Select(t => t with
        {
            Name = "bert." + t.Name.Replace("LayerNorm.weight", "LayerNorm.gamma").Replace("LayerNorm.bias", "LayerNorm.beta"),
        }).ToList());
        using var renamed = TransformerModel.Load(folder);
        Assert.Equal("bert.", renamed.Checkpoint.KeyPrefix);
        Assert.True(renamed.Checkpoint.UsedLegacyLayerNormNames);
        var g = ModelCache.Golden("bert-tiny-uncased");
        using var inputs = EncoderInputs.Create(GoldenTensors.RealRows(g["input_ids"], g["attention_mask"]), 0);
        using var output = renamed.Encode(inputs);
        TensorAssert.Close(g["last_hidden_state"], output.LastHiddenState, g["attention_mask"], 1e-4, "renamed checkpoint");
    }

    [Fact]
    public void No_weights_and_missing_shards_are_typed_errors()
    {
        File.Copy(Path.Combine(SharedData.Model("bert-tiny-uncased"), "config.json"), Path.Combine(temp, "config.json"));
        File.Copy(Path.Combine(SharedData.Model("bert-tiny-uncased"), "vocab.txt"), Path.Combine(temp, "vocab.txt"));
        var none = Assert.Throws<WeightLoadingException>(() => TransformerModel.Load(temp));
        Assert.Contains("model.safetensors", none.Message);

        File.WriteAllText(Path.Combine(temp, "model.safetensors.index.json"),
            """{"metadata": {}, "weight_map": {"embeddings.word_embeddings.weight": "model-00001-of-00002.safetensors"}}""");
        var shard = Assert.Throws<WeightLoadingException>(() => TransformerModel.Load(temp));
        Assert.Contains("model-00001-of-00002.safetensors", shard.Message);
        Assert.Contains("does not exist", shard.Message);
    }

    [Fact]
    public void Inputs_longer_than_the_position_table_fail_clearly()
    {
        var m = ModelCache.Get("bert-tiny-uncased");
        using var inputs = EncoderInputs.Create([Enumerable.Repeat(1000, 513).ToArray()], 0);
        var e = Assert.Throws<ArgumentException>(() => m.Encode(inputs));
        Assert.Contains("513", e.Message);
        using var bad = EncoderInputs.Create([new[] { 101, 999_999, 102 }], 0);
        Assert.Throws<ArgumentException>(() => m.Encode(bad));
    }
}

using System.Runtime.InteropServices;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Pipelines;
using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.SentenceTransformers;
using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Tests.Pooling;
using TransformerEmbeddings.Weights;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.SentenceTransformers;

public sealed class SentenceEmbedderTests
{
    private const string MiniLm = "all-MiniLM-L6-v2";

    [Fact]
    public void The_all_MiniLM_pipeline_equals_sentence_transformers_encode()
    {
        using var embedder = SentenceEmbedder.Load(SharedData.Model(MiniLm));
        Assert.True(embedder.IsSentenceTransformersFolder);
        Assert.Equal(384, embedder.Dimension);
        Assert.Equal(256, embedder.MaxSequenceLength);
        Assert.Equal(PoolingStrategy.Mean, embedder.Pooling);

        var golden = ModelCache.Golden(MiniLm);
        var expected = golden["st.embeddings"];
        using var sentences = GoldenTokens.IdInputs(embedder.Model, golden, "");
        var vectors = embedder.EmbedBatch(sentences);
        using var longInputs = GoldenTokens.IdInputs(embedder.Model, golden, "long.");
        Assert.Equal(256, longInputs.SequenceLength);
        var longVector = embedder.EmbedBatch(longInputs);
        var b = vectors.Count;
        Assert.Equal(expected.shape[0], b + 1);
        using var stacked = cat([vectors.ToTensor(), longVector.ToTensor()], 0);
        var d = TensorAssert.MaxAbsDiff(expected, stacked, null);
        Assert.True(d <= 1e-5, $"st.embeddings: max abs difference {d:E3}");
    }

    [Fact]
    public void A_folder_without_modules_json_gets_what_SentenceTransformer_gives_it_mean_pooling_without_normalisation()
    {
        using var embedder = SentenceEmbedder.Load(SharedData.Model("bert-tiny-uncased"));
        Assert.False(embedder.IsSentenceTransformersFolder);
        var golden = ModelCache.Golden("bert-tiny-uncased");
        using var inputs = GoldenTokens.IdInputs(embedder.Model, golden, "pairs.");
        TensorAssert.Close(golden["pairs.pool.mean"], embedder.EmbedBatch(inputs), 1e-5, "SentenceTransformer(folder)");
        var texts = GoldenInputs.For(embedder.Model).Sentences;
        TensorAssert.Close(golden["pool.mean_normalized"], embedder.Embed(texts, new EmbeddingOptions { Normalize = true }), 1e-5, "normalize_embeddings");

        using var normalized = SentenceEmbedder.Load(SharedData.Model("bert-tiny-uncased"), new SentenceEmbedderOptions { Normalize = true });
        TensorAssert.Close(golden["pairs.pool.mean_normalized"], normalized.EmbedBatch(inputs), 1e-5, "a Normalize module");
    }

    [Fact]
    public void A_custom_pooling_chain_or_strategy_is_used_as_given()
    {
        var m = ModelCache.Get("bert-tiny-uncased");
        var golden = ModelCache.Golden("bert-tiny-uncased");
        using var inputs = GoldenTokens.IdInputs(m, golden, "");
        var lastThree = new SentenceEmbedderOptions { PoolingFunction = o => o.HiddenStates(^3..).Mean().Tokens().Mean() };
        using var uncaptured = SentenceEmbedder.Create(m, lastThree);
        var error = Assert.Throws<NotCapturedException>(() => uncaptured.EmbedBatch(inputs));
        Assert.Contains("ActivationKind.HiddenStates", error.Message);

        using var chain = SentenceEmbedder.Create(m, lastThree with { Capture = new CaptureOptions { Kinds = ActivationKind.HiddenStates } });
        TensorAssert.Close(golden["pool.last4_mean"], chain.EmbedBatch(inputs), 1e-4, "a pooling chain");
        Assert.Equal(m.HiddenSize, chain.Dimension);

        using var max = SentenceEmbedder.Create(m, new SentenceEmbedderOptions { Pooling = PoolingStrategy.Parse("max") });
        TensorAssert.Close(golden["pool.max"], max.EmbedBatch(inputs), 1e-5, "max");
    }

    [Fact]
    public void Dense_modules_apply_linear_and_activation_and_pooling_concatenates_in_sentence_transformers_order()
    {
        const string model = "bert-tiny-uncased";
        var golden = ModelCache.Golden(model);
        var h = (int)golden["pool.cls"].shape[1];
        const int outFeatures = 16;
        var random = new Random(7);
        var weight = Enumerable.Range(0, outFeatures * 2 * h).Select(_ => (float)(random.NextDouble() - 0.5) * 0.3f).ToArray();
        var bias = Enumerable.Range(0, outFeatures).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        using var folder = new TempModelFolder(model);
        folder.Write("modules.json", """
            [{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
             {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
             {"idx":2,"name":"2","path":"2_Dense","type":"sentence_transformers.models.Dense"},
             {"idx":3,"name":"3","path":"3_Normalize","type":"sentence_transformers.models.Normalize"}]
            """);
        // mean listed before cls: sentence-transformers still concatenates cls first.
        folder.Write("1_Pooling/config.json", $$"""{"word_embedding_dimension": {{h}}, "pooling_mode_mean_tokens": true, "pooling_mode_cls_token": true}""");
        folder.Write("2_Dense/config.json", $$"""{"in_features": {{2 * h}}, "out_features": {{outFeatures}}, "bias": true, "activation_function": "torch.nn.modules.activation.Tanh"}""");
        SafeTensorsWriter.Write(Path.Combine(folder.Path, "2_Dense", "model.safetensors"),
        [
            new SafeTensorEntry("linear.weight", SafeTensorsDType.F32, [outFeatures, 2 * h], MemoryMarshal.AsBytes(weight.AsSpan()).ToArray()),
            new SafeTensorEntry("linear.bias", SafeTensorsDType.F32, [outFeatures], MemoryMarshal.AsBytes(bias.AsSpan()).ToArray()),
        ]);
        folder.Write("config_sentence_transformers.json", """{"prompts": {"query": "query: ", "doc": ""}, "default_prompt_name": null, "truncate_dim": 8}""");

        using var embedder = SentenceEmbedder.Load(folder.Path);
        Assert.Equal(new PoolingStrategy(TokenPooling.Cls, TokenPooling.Mean), embedder.Pooling);
        Assert.Equal(8, embedder.TruncateDimension);
        Assert.Equal(8, embedder.Dimension);
        Assert.Equal("query: ", embedder.Prompts["query"]);
        var e = Assert.Throws<ArgumentException>(() => embedder.Embed(["x"], new EmbeddingOptions { PromptName = "passage" }));
        Assert.Contains("passage", e.Message);

        using var inputs = GoldenTokens.IdInputs(embedder.Model, golden, "");
        var vectors = embedder.EmbedBatch(inputs);
        using var scope = NewDisposeScope();
        var x = cat([golden["pool.cls"], golden["pool.mean"]], 1);
        var y = nn.functional.linear(x, tensor(weight, [outFeatures, 2 * h]), tensor(bias, [outFeatures])).tanh();
        y = y / y.norm(1, keepdim: true, p: 2);
        var expected = y.narrow(1, 0, 8); // truncate_dim: cut after Normalize, not renormalised
        TensorAssert.Close(expected, vectors, 1e-5, "dense pipeline");
    }

    [Fact]
    public void An_unsupported_module_type_fails_naming_it()
    {
        using var folder = new TempModelFolder("bert-tiny-uncased");
        folder.Write("modules.json", """
            [{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
             {"idx":1,"name":"1","path":"1_LSTM","type":"sentence_transformers.models.LSTM"}]
            """);
        var e = Assert.Throws<ModelConfigurationException>(() => SentenceEmbedder.Load(folder.Path));
        Assert.Contains("sentence_transformers.models.LSTM", e.Message);
        Assert.EndsWith("modules.json", e.FilePath);
    }

    [Fact]
    public void Dense_activation_must_be_known_and_weights_present()
    {
        using var folder = new TempModelFolder("bert-tiny-uncased");
        folder.Write("modules.json", """
            [{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
             {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
             {"idx":2,"name":"2","path":"2_Dense","type":"sentence_transformers.models.Dense"}]
            """);
        folder.Write("1_Pooling/config.json", """{"pooling_mode": "cls"}""");
        folder.Write("2_Dense/config.json", """{"in_features": 128, "out_features": 4, "activation_function": "torch.nn.modules.activation.Softsign"}""");
        var e = Assert.Throws<ModelConfigurationException>(() => SentenceEmbedder.Load(folder.Path));
        Assert.Contains("Softsign", e.Message);
        folder.Write("2_Dense/config.json", """{"in_features": 128, "out_features": 4, "activation_function": "torch.nn.modules.linear.Identity"}""");
        // Its weights load like the encoder's, through the checkpoint loader.
        var missing = Assert.Throws<WeightLoadingException>(() => SentenceEmbedder.Load(folder.Path));
        Assert.Contains("model.safetensors", missing.Message);
    }

    [Fact]
    public void Pooling_configs_read_every_key_new_and_legacy()
    {
        using var folder = new TempModelFolder(null);
        var path = Path.Combine(folder.Path, "config.json");
        folder.Write("config.json", """
            {"word_embedding_dimension": 64, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": true,
             "pooling_mode_mean_sqrt_len_tokens": true, "pooling_mode_weightedmean_tokens": true, "pooling_mode_lasttoken": true, "include_prompt": false}
            """);
        var (all, dim, include) = SentenceTransformersFolder.ReadPooling(path);
        Assert.Equal([TokenPooling.Cls, TokenPooling.Max, TokenPooling.Mean, TokenPooling.MeanSqrtLength, TokenPooling.WeightedMean, TokenPooling.LastToken], all.Modes);
        Assert.Equal(64, dim);
        Assert.False(include);
        foreach (var (legacy, mode) in new[] { ("max", TokenPooling.Max), ("mean_sqrt_len_tokens", TokenPooling.MeanSqrtLength), ("weightedmean", TokenPooling.WeightedMean), ("lasttoken", TokenPooling.LastToken) })
        {
            folder.Write("config.json", $$"""{"word_embedding_dimension": 64, "pooling_mode": "{{legacy}}", "pooling_mode_mean_tokens": true}""");
            Assert.Equal([mode], SentenceTransformersFolder.ReadPooling(path).Strategy.Modes);
        }
        folder.Write("config.json", """{"pooling_mode": "median"}""");
        Assert.Contains("median", Assert.Throws<ModelConfigurationException>(() => SentenceTransformersFolder.ReadPooling(path)).Message);
        folder.Write("config.json", """{"pooling_mode_mean_tokens": false}""");
        Assert.Throws<ModelConfigurationException>(() => SentenceTransformersFolder.ReadPooling(path));
    }

    [Fact]
    public void Prompts_are_excluded_from_pooling_when_include_prompt_is_false()
    {
        var m = ModelCache.Get("bert-tiny-uncased");
        var golden = ModelCache.Golden("bert-tiny-uncased");
        using var folder = new TempModelFolder("bert-tiny-uncased");
        folder.Write("modules.json", """
            [{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
             {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]
            """);
        folder.Write("1_Pooling/config.json", """{"pooling_mode_mean_tokens": true, "include_prompt": false}""");
        using var embedder = SentenceEmbedder.Load(folder.Path);
        using var inputs = GoldenTokens.IdInputs(m, golden, "");
        var skipped = embedder.EmbedBatch(inputs, promptLength: 3);
        using var output = m.Encode(inputs);
        using var scope = NewDisposeScope();
        var mask = output.AttentionMask.to(ScalarType.Float32).clone();
        mask.narrow(1, 0, 3).fill_(0);
        var expected = (output.LastHiddenState * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim: true).clamp_min(1e-9);
        TensorAssert.Close(expected, skipped, 1e-5, "include_prompt: false");
    }

    /// <summary>A temporary folder whose files link to a test model's files.</summary>
    private sealed class TempModelFolder : IDisposable
    {
        public TempModelFolder(string? model)
        {
            Path = Directory.CreateTempSubdirectory("te-st-").FullName;
            if (model is null) return;
            foreach (var file in Directory.GetFiles(SharedData.Model(model)))
                File.CreateSymbolicLink(System.IO.Path.Combine(Path, System.IO.Path.GetFileName(file)), file);
        }

        public string Path { get; }

        public void Write(string relative, string text)
        {
            var full = System.IO.Path.Combine(Path, relative);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
            File.WriteAllText(full, text);
        }

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}

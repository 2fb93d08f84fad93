using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Modeling;

/// <summary>The tied MLM heads of the *ForMaskedLM checkpoints against the golden logits.</summary>
public sealed class MaskedLanguageModelTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData("bert-tiny-cased-sharded")]
    [InlineData("roberta-tiny")]
    public void Logits_at_the_mask_tokens_match_the_golden_logits_and_top5(string model)
    {
        var m = ModelCache.Get(model);
        var g = ModelCache.Golden(model);
        Assert.True(m.MaskedLanguageModel is not null);
        var (sentences, _, _) = GoldenInputs.For(m);
        using var output = m.Encode(sentences);

        var rows = g["mlm_rows"];
        var positions = Enumerable.Range(0, (int)rows.shape[0]).Select(i => ((int)rows[i, 0].item<long>(), (int)rows[i, 1].item<long>())).ToList();
        using var logits = m.MaskedLanguageModel!.Logits(output, positions);
        var d = TensorAssert.MaxAbsDiff(g["mlm_logits_selected"], logits, null);
        log.WriteLine($"{model}: mlm_logits_selected max abs diff {d:E2}");
        Assert.True(d <= 1e-4, $"max abs diff {d:E2}");

        var predictions = m.MaskedLanguageModel!.Predict(sentences, topK: 5);
        Assert.Equal(positions, predictions.Select(p => (p.Sequence, p.Position)).ToList());
        for (var n = 0; n < predictions.Count; n++)
        {
            Assert.Equal(g["mlm_top5_ids"][n].data<long>().Select(i => (int)i).ToArray(), predictions[n].Candidates.Select(c => c.Id).ToArray());
            Assert.True(predictions[n].Candidates.Zip(predictions[n].Candidates.Skip(1)).All(p => p.First.Logit >= p.Second.Logit));
        }
    }

    [Theory]
    [InlineData("bert-tiny-cased-sharded", "cls.predictions.")]
    [InlineData("roberta-tiny", "lm_head.")]
    public void The_heads_parameter_names_are_the_checkpoints_keys(string model, string prefix)
    {
        var head = ModelCache.Get(model).MaskedLanguageModel!.Head;
        var keys = new HashSet<string>();
        foreach (var file in Directory.GetFiles(SharedData.Model(model), "*.safetensors"))
        {
            using var f = TransformerEmbeddings.Weights.SafeTensorsFile.Open(file);
            keys.UnionWith(f.Tensors.Select(t => t.Name));
        }
        var names = head.named_parameters().Select(p => p.name).ToList();
        Assert.Contains(prefix == "lm_head." ? "dense.weight" : "transform.dense.weight", names);
        foreach (var name in names)
        {
            // Legacy checkpoints spell LayerNorm weight/bias gamma/beta (the loader's one mapping).
            var legacy = name.Replace("LayerNorm.weight", "LayerNorm.gamma").Replace("LayerNorm.bias", "LayerNorm.beta");
            Assert.True(keys.Contains(prefix + name) || keys.Contains(prefix + legacy), $"{prefix}{name} is not a key of {model}");
        }
    }

    [Fact]
    public void Models_without_a_head_have_none()
    {
        Assert.Null(ModelCache.Get("bert-tiny-uncased").MaskedLanguageModel);
        Assert.Null(ModelCache.Get("all-MiniLM-L6-v2").MaskedLanguageModel);
        Assert.NotNull(ModelCache.Get("roberta-tiny").MaskedLanguageModel);
    }
}

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
        Assert.True(m.HasMaskedLanguageModelHead);
        var (sentences, _, _) = GoldenInputs.For(m);
        using var output = m.Encode(sentences);

        var rows = g["mlm_rows"];
        var positions = Enumerable.Range(0, (int)rows.shape[0]).Select(i => ((int)rows[i, 0].item<long>(), (int)rows[i, 1].item<long>())).ToList();
        using var logits = m.MaskedLanguageModelLogits(output, positions);
        var d = TensorAssert.MaxAbsDiff(g["mlm_logits_selected"], logits, null);
        log.WriteLine($"{model}: mlm_logits_selected max abs diff {d:E2}");
        Assert.True(d <= 1e-4, $"max abs diff {d:E2}");

        var predictions = m.PredictMasked(sentences, topK: 5);
        Assert.Equal(positions, predictions.Select(p => (p.Sequence, p.Position)).ToList());
        for (var n = 0; n < predictions.Count; n++)
        {
            Assert.Equal(g["mlm_top5_ids"][n].data<long>().Select(i => (int)i).ToArray(), predictions[n].Candidates.Select(c => c.Id).ToArray());
            Assert.True(predictions[n].Candidates.Zip(predictions[n].Candidates.Skip(1)).All(p => p.First.Logit >= p.Second.Logit));
        }
    }

    [Fact]
    public void Models_without_a_head_say_so()
    {
        var m = ModelCache.Get("bert-tiny-uncased");
        Assert.False(m.HasMaskedLanguageModelHead);
        using var output = m.Encode(["x"]);
        var e = Assert.Throws<InvalidOperationException>(() => m.MaskedLanguageModelLogits(output));
        Assert.Contains("masked-language-model head", e.Message);
    }
}

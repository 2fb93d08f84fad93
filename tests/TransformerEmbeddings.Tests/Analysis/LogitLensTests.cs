using TransformerEmbeddings.Analysis;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Tests.Modeling;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Analysis;

/// <summary>The logit lens (the MLM head on every hidden state) and the MLM head of fast-mode models.</summary>
public sealed class LogitLensTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData("bert-tiny-cased-sharded")]
    [InlineData("roberta-tiny")]
    public void The_lens_on_the_last_hidden_state_gives_the_golden_top5_at_the_masks(string name)
    {
        var model = ModelCache.Get(name);
        var g = ModelCache.Golden(name);
        var (sentences, _, _) = GoldenInputs.For(model);
        using var output = model.Encode(sentences, new CaptureOptions { Kinds = ActivationKind.HiddenStates });
        var lens = LogitLens.Predict(model.MaskedLanguageModel!, output, topK: 5);
        var layers = model.Config.NumHiddenLayers;
        var realTokens = Enumerable.Range(0, output.BatchSize).Sum(output.Length);
        Assert.Equal((layers + 1) * realTokens, lens.Count);
        Assert.Equal(Enumerable.Range(0, layers + 1), lens.Select(p => p.HiddenState).Distinct());

        var rows = g["mlm_rows"];
        for (var n = 0; n < rows.shape[0]; n++)
        {
            var (b, p) = ((int)rows[n, 0].item<long>(), (int)rows[n, 1].item<long>());
            var last = lens.Single(x => x.HiddenState == layers && x.Sequence == b && x.Position == p);
            Assert.Equal(g["mlm_top5_ids"][n].data<long>().Select(i => (int)i), last.Candidates.Select(c => c.Id));
            Assert.Equal(g["mlm_top5_logits"][n].data<float>().ToArray(), last.Candidates.Select(c => c.Logit).ToArray(), new ToleranceComparer(1e-4f));
        }
        // Earlier layers read differently, probabilities are a distribution's largest entries, ordered.
        Assert.NotEqual(lens.Where(x => x.HiddenState == 0).Select(x => x.Candidates[0].Id), lens.Where(x => x.HiddenState == layers).Select(x => x.Candidates[0].Id));
        Assert.All(lens, x => Assert.True(x.Candidates.Zip(x.Candidates.Skip(1)).All(c => c.First.Probability >= c.Second.Probability) && x.Candidates.Sum(c => c.Probability) <= 1.0001f));
    }

    [Fact]
    public void Asking_for_uncaptured_states_fails_with_what_to_capture()
    {
        var model = ModelCache.Get("roberta-tiny");
        using var plain = model.Encode(["Hello <mask>."]);
        var e = Assert.Throws<NotCapturedException>(() => LogitLens.Predict(model.MaskedLanguageModel!, plain));
        Assert.Contains("HiddenStates", e.Message);
        Assert.Single(LogitLens.Predict(model.MaskedLanguageModel!, plain, 1, [-1]).Select(p => p.HiddenState).Distinct()); // the last state is always there
        Assert.Throws<ArgumentOutOfRangeException>(() => LogitLens.Predict(model.MaskedLanguageModel!, plain, 1, [model.Config.NumHiddenLayers + 1]));
        Assert.Null(ModelCache.Get("bert-tiny-uncased").MaskedLanguageModel);   // a checkpoint without a head has no lens
    }

    [Theory]
    [InlineData("bert-tiny-cased-sharded")]
    [InlineData("roberta-tiny")]
    public void A_fast_mode_model_runs_its_MLM_head_on_its_own_kernels(string name)
    {
        var exact = ModelCache.Get(name);
        using var fast = TransformerModel.Load(SharedData.Model(name), PrecisionTests.IntegerFastMode);
        Assert.Contains("12-bit integers", fast.ComputePath);
        Assert.True((fast.MaskedLanguageModel is not null));
        var (sentences, _, _) = GoldenInputs.For(exact);
        using var a = exact.Encode(sentences, new CaptureOptions { Kinds = ActivationKind.HiddenStates });
        using var b = fast.Encode(sentences, new CaptureOptions { Kinds = ActivationKind.HiddenStates });
        using var scope = NewDisposeScope();
        var mask = a.AttentionMask.to(ScalarType.Bool);
        foreach (var state in new[] { 0, -1 })
        {
            var la = exact.MaskedLanguageModel!.Apply(a.HiddenState(state)[mask]);
            var lb = fast.MaskedLanguageModel!.Apply(b.HiddenState(state)[mask]);
            var cosine = nn.functional.cosine_similarity(la, lb, dim: -1);
            log.WriteLine($"{name} hidden state {state}: fast vs exact logits, minimum cosine {cosine.min().item<float>():F6}, top-1 agreement {(la.argmax(-1) == lb.argmax(-1)).to(ScalarType.Float32).mean().item<float>():P1}");
            Assert.True(cosine.min().item<float>() >= 0.999f);
            Assert.True((la - lb).abs().max().item<float>() > 0, "the head ran the exact kernels");
        }
        var predictions = fast.MaskedLanguageModel!.Predict(sentences, topK: 5);
        Assert.Equal(exact.MaskedLanguageModel!.Predict(sentences, topK: 5).Select(p => (p.Sequence, p.Position)), predictions.Select(p => (p.Sequence, p.Position)));
        Assert.NotEmpty(LogitLens.Predict(fast.MaskedLanguageModel!, b, topK: 3));
    }

    private sealed class ToleranceComparer(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(float obj) => 0;
    }
}

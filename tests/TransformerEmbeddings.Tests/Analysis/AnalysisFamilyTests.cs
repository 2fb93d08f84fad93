using TransformerEmbeddings.Analysis;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Analysis;

/// <summary>
/// The analyses on every encoder family. At layer 0 the value-space definition can be checked against the forward pass
/// itself: a token's own row of the projected vocabulary, at the position id it sits at, is its captured value vector.
/// </summary>
public sealed class AnalysisFamilyTests
{
    public static TheoryData<string> Models()
    {
        var data = new TheoryData<string>();
        foreach (var m in SharedData.ModelNames) data.Add(m);
        foreach (var m in FamilyFixtures.All) data.Add(m);
        return data;
    }

    private static TransformerModel Load(string name) =>
        SharedData.ModelNames.Contains(name) ? ModelCache.Get(name) : FamilyFixtures.Model(name);

    [Theory]
    [MemberData(nameof(Models))]
    public void At_layer_0_a_tokens_own_vocabulary_row_is_its_value_vector(string name)
    {
        var model = Load(name);
        using var output = model.Encode(["The bank will not lend money near the river bank."], new CaptureOptions { Kinds = ActivationKind.Values, Layers = [0] });
        var space = new ValueSpace(model, 0);
        using var scope = NewDisposeScope();
        double worst = 0;
        foreach (var p in new[] { 1, 2, output.Length(0) - 1 })
        {
            using var projected = space.ProjectVocabulary(output.PositionIds[0, p].item<long>());
            var id = output.InputIds[0, p].item<long>();
            var value = output.Values(0)[0, .., p].to(ScalarType.Float32);       // (heads, d_head)
            worst = Math.Max(worst, (projected[id] - value).abs().max().item<float>());
        }
        Assert.True(worst < 1e-4, $"{name}: max difference {worst:E2}");
    }

    [Theory]
    [MemberData(nameof(FamilyFixtures.WithHeads), MemberType = typeof(FamilyFixtures))]
    public void The_lens_and_the_decoder_tie_work_on_every_family_with_a_head(string name)
    {
        var model = FamilyFixtures.Model(name);
        var mask = model.Tokenizer.MaskToken!;
        using var output = model.Encode([$"The capital of France is {mask}."], new CaptureOptions { Kinds = ActivationKind.HiddenStates });
        var lens = LogitLens.Predict(model.MaskedLanguageModel!, output, topK: 3);
        Assert.Equal((model.Config.NumHiddenLayers + 1) * output.Length(0), lens.Count);
        var last = model.MaskedLanguageModel!.Predict([$"The capital of France is {mask}."], 3).Single();
        Assert.Equal(last.Candidates.Select(c => c.Id), lens.Single(p => p.HiddenState == model.Config.NumHiddenLayers && p.Position == last.Position).Candidates.Select(c => c.Id));
        Assert.True(EmbeddingSpace.DecoderTie(model).Tied);
    }
}

using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Modeling;

/// <summary>The inspection names mean the same in every family: properties of the captured internals, perturbations and weights.</summary>
public sealed class FamilyInspectionTests
{
    private static (TransformerModel Model, GoldenTensors Golden, EncoderInputs Inputs) Sentences(string model)
    {
        var m = FamilyFixtures.Model(model);
        var g = FamilyFixtures.Golden(model);
        return (m, g, FamilyParityTests.IdInputs(m, g, ""));
    }

    [Theory]
    [MemberData(nameof(FamilyFixtures.AllModels), MemberType = typeof(FamilyFixtures))]
    public void Attention_is_zero_on_padded_keys_rows_sum_to_one_and_context_is_attention_times_value(string model)
    {
        var (m, g, inputs) = Sentences(model);
        using var _ = inputs;
        using var output = m.Encode(inputs, new CaptureOptions { Kinds = ActivationKind.Attentions | ActivationKind.Values | ActivationKind.Contexts, Layers = [0, -1] });
        var keyMask = g["attention_mask"].view(inputs.BatchSize, 1, 1, inputs.SequenceLength);
        foreach (var layer in new[] { 0, -1 })
        {
            var probs = output.Attentions(layer);
            Assert.Equal(0.0, (probs * (1 - keyMask)).abs().max().item<float>());
            TensorAssert.Close(ones_like(probs.sum(-1)), probs.sum(-1), g["attention_mask"], 1e-5, "row sums", sequenceDim: 2);
            TensorAssert.Close(probs.matmul(output.Values(layer)), output.Contexts(layer), g["attention_mask"], 1e-6, "context", sequenceDim: 2);
        }
        Assert.Throws<NotCapturedException>(() => output.Queries(0));
    }

    [Theory]
    [MemberData(nameof(FamilyFixtures.AllModels), MemberType = typeof(FamilyFixtures))]
    public void Inputs_embeds_equal_to_embedding_rows_reproduce_the_id_path(string model)
    {
        var (m, g, inputs) = Sentences(model);
        using var _ = inputs;
        using var byIds = m.Encode(inputs, new CaptureOptions { Kinds = ActivationKind.WordEmbeddings });
        using var byRows = m.EncodeEmbeddings(byIds.WordEmbeddings, inputs.AttentionMask, inputs.TokenTypeIds);
        using var plain = m.Encode(inputs);
        TensorAssert.Close(plain.LastHiddenState, byRows.LastHiddenState, g["attention_mask"], 1e-6, "inputs_embeds");
        TensorAssert.Equal(g["word_embeddings"], byIds.WordEmbeddings, g["attention_mask"], "word_embeddings are E[input_ids]");
    }

    [Theory]
    [MemberData(nameof(FamilyFixtures.Bases), MemberType = typeof(FamilyFixtures))]
    public void Attention_weights_in_transformer_lens_shapes_reproduce_queries_and_values(string model)
    {
        var (m, g, inputs) = Sentences(model);
        using var _ = inputs;
        using var output = m.Encode(inputs, new CaptureOptions { Kinds = ActivationKind.Queries | ActivationKind.Values | ActivationKind.HiddenStates });
        var (h, dh, d) = (m.Config.NumAttentionHeads, m.Config.HeadDim, m.Config.HiddenSize);
        for (var layer = 0; layer < m.Config.NumHiddenLayers; layer++)
        {
            using var w = m.Weights.Attention(layer);
            Assert.Equal(new long[] { h, d, dh }, w.W_Q.shape);
            Assert.Equal(new long[] { h, dh, d }, w.W_O.shape);
            var x = output.HiddenState(layer);                                      // the block's input
            TensorAssert.Close(output.Queries(layer), einsum("bsd,hde->bhse", x, w.W_Q) + w.B_Q.view(1, h, 1, dh), g["attention_mask"], 1e-5, $"{model} W_Q.{layer}", sequenceDim: 2);
            TensorAssert.Close(output.Values(layer), einsum("bsd,hde->bhse", x, w.W_V) + w.B_V.view(1, h, 1, dh), g["attention_mask"], 1e-5, $"{model} W_V.{layer}", sequenceDim: 2);
        }
    }

    [Theory]
    [MemberData(nameof(FamilyFixtures.Bases), MemberType = typeof(FamilyFixtures))]
    public void Ablating_a_head_zeroes_its_context_and_changes_the_output(string model)
    {
        var (m, g, inputs) = Sentences(model);
        using var _ = inputs;
        using var ablated = m.Encode(inputs, new CaptureOptions { Kinds = ActivationKind.Contexts, Interventions = [HeadIntervention.Ablate(-1, 1)] });
        Assert.Equal(0f, ablated.Contexts(-1)[.., 1].abs().max().item<float>());
        Assert.NotEqual(0f, ablated.Contexts(-1)[.., 0].abs().max().item<float>());
        using var plain = m.Encode(inputs);
        Assert.True(TensorAssert.MaxAbsDiff(plain.LastHiddenState, ablated.LastHiddenState, g["attention_mask"]) > 1e-4);
    }
}

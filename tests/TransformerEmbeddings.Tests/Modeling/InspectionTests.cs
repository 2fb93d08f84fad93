using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Modeling;

/// <summary>Properties of the captured internals and of perturbations (head mask, ablation, inputs_embeds).</summary>
public sealed class InspectionTests
{
    public static TheoryData<string> Models() => new(SharedData.ModelNames);

    private static (TransformerModel Model, GoldenTensors Golden, EncoderInputs Inputs) Sentences(string model)
    {
        var m = ModelCache.Get(model);
        var g = ModelCache.Golden(model);
        var inputs = EncoderInputs.Create(GoldenTensors.RealRows(g["input_ids"], g["attention_mask"]), m.Tokenizer.PadTokenId);
        return (m, g, inputs);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Head_mask_matches_the_golden_head_masked_output(string model)
    {
        var (m, g, inputs) = Sentences(model);
        using var _ = inputs;
        if (!g.Has("head_mask"))
        {
            Assert.Equal("all-MiniLM-L6-v2", model); // the only golden file without a head-mask case
            return;
        }
        var mask = g["head_mask"];
        var rows = Enumerable.Range(0, (int)mask.shape[0]).Select(l => mask[l].data<float>().ToArray()).ToArray();
        using var masked = m.Encode(inputs, new CaptureOptions { HeadMask = rows });
        TensorAssert.Close(g["head_masked.last_hidden_state"], masked.LastHiddenState, g["attention_mask"], EncoderParityTests.Tolerance, "head_masked.last_hidden_state");
        using var plain = m.Encode(inputs);
        Assert.True(TensorAssert.MaxAbsDiff(plain.LastHiddenState, masked.LastHiddenState, g["attention_mask"]) > 1e-3, "the head mask changed nothing");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void A_head_mask_of_ones_changes_nothing(string model)
    {
        var (m, g, inputs) = Sentences(model);
        using var _ = inputs;
        var ones = Enumerable.Range(0, m.Config.NumHiddenLayers).Select(_ => Enumerable.Repeat(1f, m.Config.NumAttentionHeads).ToArray()).ToArray();
        using var plain = m.Encode(inputs, new CaptureOptions { Kinds = ActivationKind.Attentions });
        using var masked = m.Encode(inputs, new CaptureOptions { HeadMask = ones });
        TensorAssert.Equal(plain.LastHiddenState, masked.LastHiddenState, g["attention_mask"], "ones head mask");
    }

    [Theory]
    [MemberData(nameof(Models))]
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
        if (m.Config.NumHiddenLayers > 2) Assert.Throws<NotCapturedException>(() => output.Attentions(1));
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Inputs_embeds_equal_to_embedding_rows_reproduce_the_id_path(string model)
    {
        var (m, g, inputs) = Sentences(model);
        using var _ = inputs;
        using var byIds = m.Encode(inputs, new CaptureOptions { Kinds = ActivationKind.WordEmbeddings });
        using var byRows = m.EncodeEmbeddings(byIds.WordEmbeddings, inputs.AttentionMask, inputs.TokenTypeIds);
        // Against the plain (uncaptured) id path: the same kernels run, so only the embedding lookup differs.
        using var plain = m.Encode(inputs);
        TensorAssert.Close(plain.LastHiddenState, byRows.LastHiddenState, g["attention_mask"], 1e-6, "inputs_embeds");

        var id = (int)inputs.InputIds[0, 1].item<long>();
        using var rows = m.Vocabulary.Vectors([id]);
        TensorAssert.Close(byIds.WordEmbeddings[0, 1].unsqueeze(0), rows, null, 0, "Vocabulary.Vectors");
        using var byToken = m.Vocabulary.Vectors([m.Tokenizer.IdToToken(id)!]);
        TensorAssert.Equal(rows, byToken, null, "by token");
        TensorAssert.Equal(m.Weights.WordEmbeddings[id].unsqueeze(0), rows, null, "a row of E");
        Assert.Equal(m.Vocabulary.Count, (int)m.Weights.WordEmbeddings.shape[0]);
        Assert.Throws<ArgumentException>(() => m.Vocabulary.Vectors(["no such token at all"]));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Vocabulary.Vectors([m.Vocabulary.Count]));
    }

    [Fact]
    public void Ablating_a_head_zeroes_its_context_and_changes_the_output()
    {
        var (m, g, inputs) = Sentences("bert-tiny-uncased");
        using var _ = inputs;
        using var ablated = m.Encode(inputs, new CaptureOptions { Kinds = ActivationKind.Contexts, Interventions = [HeadIntervention.Ablate(-1, 2)] });
        Assert.Equal(0f, ablated.Contexts(-1)[.., 2].abs().max().item<float>());
        Assert.NotEqual(0f, ablated.Contexts(-1)[.., 1].abs().max().item<float>());
        using var plain = m.Encode(inputs);
        Assert.True(TensorAssert.MaxAbsDiff(plain.LastHiddenState, ablated.LastHiddenState, g["attention_mask"]) > 1e-4);
    }

    [Fact]
    public void Attention_weights_in_transformer_lens_shapes_reproduce_the_queries()
    {
        var (m, g, inputs) = Sentences("bert-tiny-uncased");
        using var _ = inputs;
        using var output = m.Encode(inputs, new CaptureOptions { Kinds = ActivationKind.Queries | ActivationKind.HiddenStates });
        using var w = m.Weights.Attention(0);
        var (h, dh, d) = (m.Config.NumAttentionHeads, m.Config.HeadDim, m.Config.HiddenSize);
        Assert.Equal(new long[] { h, d, dh }, w.W_Q.shape);
        Assert.Equal(new long[] { h, dh, d }, w.W_O.shape);
        // q[b, h, s] = x[b, s] @ W_Q[h] + b_Q[h]
        var x = output.HiddenState(0);                                   // (B, S, d)
        var q = einsum("bsd,hde->bhse", x, w.W_Q) + w.B_Q.view(1, h, 1, dh);
        TensorAssert.Close(output.Queries(0), q, g["attention_mask"], 1e-5, "W_Q", sequenceDim: 2);
    }

    [Fact]
    public void Negative_indices_count_from_the_end_and_missing_captures_say_what_to_ask_for()
    {
        var (m, _, inputs) = Sentences("bert-tiny-cased-sharded");
        using var __ = inputs;
        using var output = m.Encode(inputs, new CaptureOptions { Kinds = ActivationKind.HiddenStates });
        Assert.Same(output.LastHiddenState, output.HiddenState(-1));
        Assert.Same(output["hidden_states.-2"], output.HiddenState(m.Config.NumHiddenLayers - 1));
        var e = Assert.Throws<NotCapturedException>(() => output.Attentions(-1));
        Assert.Contains("ActivationKind.Attentions", e.Message);
        Assert.Equal($"attentions.{m.Config.NumHiddenLayers - 1}", e.Name);
        Assert.Throws<NotCapturedException>(() => output["query.0"]);
        Assert.Throws<ArgumentException>(() => output["queries.0"]);             // no such tensor in any forward pass
        Assert.False(output.Has("queries.0"));
        Assert.True(output.Has("hidden_states.0"));
        Assert.True(output.Has($"hidden_states.{m.Config.NumHiddenLayers}"));     // the last hidden state is always there
        Assert.Throws<ArgumentOutOfRangeException>(() => output.Attentions(m.Config.NumHiddenLayers));
    }
}

public sealed class RecaptureTests
{
    [Fact]
    public void Missing_hidden_states_are_captured_by_re_running_the_same_inputs()
    {
        var m = ModelCache.Get("bert-tiny-uncased");
        var g = ModelCache.Golden("bert-tiny-uncased");
        EncoderOutput output;
        using (var inputs = EncoderInputs.Create(GoldenTensors.RealRows(g["input_ids"], g["attention_mask"]), m.Tokenizer.PadTokenId))
            output = m.Encode(inputs);
        using (output)
        {
            Assert.False(output.Has("hidden_states.1"));
            output.EnsureCaptured(ActivationKind.HiddenStates);
            TensorAssert.Close(g["hidden_states.1"], output.HiddenState(1), g["attention_mask"], EncoderParityTests.Tolerance, "recaptured hidden_states.1");
            TensorAssert.Equal(output.LastHiddenState, output.HiddenState(-1), g["attention_mask"], "last");
        }
    }
}

public sealed class TokenLevelAccessTests
{
    [Fact]
    public void Tokens_words_and_characters_link_back_to_the_text()
    {
        var m = ModelCache.Get("bert-tiny-uncased");
        const string text = "The bank will not lend money near the river bank.";
        using var output = m.Encode(["short", text], new CaptureOptions { Kinds = ActivationKind.Attentions | ActivationKind.HiddenStates, Layers = [-1] });

        var river = output.TokenAt(1, text.IndexOf("river", StringComparison.Ordinal) + 2);
        Assert.Equal("river", output.Tokenization![1].Tokens[river]);
        Assert.Equal(-1, output.TokenAt(1, text.IndexOf(' ', StringComparison.Ordinal)));   // whitespace belongs to no token
        Assert.Equal([river], output.TokensOfWord(1, output.Tokenization[1].WordIds[river]!.Value));

        var vector = output.TokenVector(1, river);
        Assert.Equal(EncoderOutput.ToArray(output.LastHiddenState[1, river]), vector);
        Assert.Equal(EncoderOutput.ToArray(output.HiddenState(0)[1, river]), output.TokenVector(1, river, hiddenState: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => output.TokenVector(0, output.Length(0))); // padding is not data

        var pattern = output.AttentionPattern(-1, 1, 0);
        Assert.Equal(output.Length(0), pattern.GetLength(0));
        for (var i = 0; i < pattern.GetLength(0); i++)
            Assert.Equal(1.0, Enumerable.Range(0, pattern.GetLength(1)).Sum(j => (double)pattern[i, j]), 5);
    }

    [Fact]
    public void Every_captured_kind_has_a_managed_copy_over_the_real_tokens()
    {
        var m = ModelCache.Get("bert-tiny-uncased");
        using var output = m.Encode(["short", "The bank will not lend money near the river bank."], CaptureOptions.Everything);
        var n = output.Length(0);
        Assert.True(n < output.SequenceLength);                            // row 0 is padded: the copies stop at its tokens

        var last = output.ToMatrix("hidden_states.-1", sequence: 0);
        Assert.Equal(n, last.GetLength(0));
        Assert.Equal(m.HiddenSize, last.GetLength(1));
        for (var t = 0; t < n; t++)
            Assert.Equal(output.TokenVector(0, t), Enumerable.Range(0, m.HiddenSize).Select(k => last[t, k]).ToArray());

        var pattern = output.ToMatrix("attentions.-1", sequence: 0, head: 1);
        Assert.Equal(output.AttentionPattern(-1, 1, 0), pattern);

        var z = output.ToMatrix("context.0", sequence: 1, head: 2);
        Assert.Equal(new[] { output.Length(1), m.Config.HeadDim }, new[] { z.GetLength(0), z.GetLength(1) });
        using (var scope = NewDisposeScope())
            Assert.Equal(EncoderOutput.ToArray(output.Contexts(0)[1, 2, 3]), Enumerable.Range(0, m.Config.HeadDim).Select(k => z[3, k]).ToArray());

        Assert.Equal(m.Config.IntermediateSize, output.ToMatrix("intermediate.1", 1).GetLength(1));
        Assert.Equal(m.HiddenSize, output.ToMatrix("word_embeddings", 1).GetLength(1));
        Assert.Throws<ArgumentException>(() => output.ToMatrix("input_ids", 0));        // not a per-token matrix
        Assert.Throws<ArgumentOutOfRangeException>(() => output.ToMatrix("query.0", 0, head: m.Config.NumAttentionHeads));
    }
}

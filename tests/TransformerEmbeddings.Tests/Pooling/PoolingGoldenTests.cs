using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Pooling;

/// <summary>Every <c>pool.*</c> golden tensor, for all four models and all three batches, from the golden ids.</summary>
public sealed class PoolingGoldenTests(ITestOutputHelper log)
{
    [Theory]
    [MemberData(nameof(SharedData.ModelsAndBatches), MemberType = typeof(SharedData))]
    public void Every_pool_tensor_matches_the_golden_file(string model, string batch)
    {
        var m = ModelCache.Get(model);
        var golden = ModelCache.Golden(model);
        using var inputs = GoldenTokens.IdInputs(m, golden, batch);
        using var output = m.Encode(inputs, new CaptureOptions { Kinds = ActivationKind.HiddenStates }); // last4_mean reads them

        var cls = output.Tokens().Cls();
        var mean = output.Tokens().Mean();
        var normalized = output.Tokens().Mean().Normalize();
        var max = output.Tokens().Max();
        var n = Math.Min(4, output.LayerCount + 1);
        var last4 = output.HiddenStates(^n..).Mean().Tokens().Mean();

        var compared = 0;
        foreach (var (name, actual, tol) in new[]
                 {
                     ("pool.cls", cls, 1e-5), ("pool.mean", mean, 1e-5), ("pool.mean_normalized", normalized, 1e-5),
                     ("pool.max", max, 1e-5), ("pool.last4_mean", last4, 1e-4),
                 })
        {
            Assert.True(golden.Has(batch + name), $"{golden.Path} has no {batch + name}");
            var d = TensorAssert.MaxAbsDiff(golden[batch + name], actual);
            log.WriteLine($"{model} {batch}{name}: {d:E2}");
            Assert.True(d <= tol, $"{model} {batch}{name}: max abs difference {d:E3} exceeds {tol:E0}");
            compared++;
        }
        Assert.Equal(5, compared);
    }

    [Theory]
    [InlineData("all-MiniLM-L6-v2")]
    [InlineData("roberta-tiny")]
    public void A_sentence_alone_and_inside_a_padded_batch_pool_the_same(string model)
    {
        var m = ModelCache.Get(model);
        var golden = ModelCache.Golden(model);
        using var inputs = GoldenTokens.IdInputs(m, golden, "");
        using var batch = m.Encode(inputs, new CaptureOptions { Kinds = ActivationKind.Attentions, Layers = [-1] });
        var rows = GoldenTensors.RealRows(golden["input_ids"], golden["attention_mask"]);
        var modes = Enum.GetValues<TokenPooling>();
        var pooled = modes.Select(mode => batch.Tokens().Pool(new PoolingStrategy(mode))).ToArray();
        var batchWeighted = batch.Tokens().AttentionWeighted();
        for (var i = 0; i < rows.Count; i++)
        {
            using var alone = EncoderInputs.Create([rows[i]], m.Tokenizer.PadTokenId);
            using var single = m.Encode(alone, new CaptureOptions { Kinds = ActivationKind.Attentions, Layers = [-1] });
            for (var k = 0; k < modes.Length; k++)
            {
                var one = single.Tokens().Pool(new PoolingStrategy(modes[k]));
                AssertClose(one.Row(0), pooled[k].Row(i), 1e-5, $"{model} row {i} {modes[k]}");
            }
            var weighted = single.Tokens().AttentionWeighted();
            AssertClose(weighted.Row(0), batchWeighted.Row(i), 1e-5, $"{model} row {i} attention-weighted");
        }
    }

    [Fact]
    public void Hidden_states_that_were_not_captured_fail_naming_what_to_capture_and_are_never_recomputed_silently()
    {
        var m = ModelCache.Get("bert-tiny-uncased");
        var golden = ModelCache.Golden("bert-tiny-uncased");
        using var inputs = GoldenTokens.IdInputs(m, golden, "");
        using var output = m.Encode(inputs);
        Assert.Empty(output.CapturedNames);
        var error = Assert.Throws<NotCapturedException>(() => output.Tokens(0).Mean());
        Assert.Equal("hidden_states.0", error.Name);
        Assert.Contains("ActivationKind.HiddenStates", error.Message);
        Assert.Contains("EnsureCaptured", error.Message);
        Assert.Throws<NotCapturedException>(() => output.HiddenStates(^2..));
        Assert.Empty(output.CapturedNames);                       // nothing ran behind our back
        Assert.Equal(m.HiddenSize, output.Tokens(-1).Mean().Dimension); // the last hidden state is always there

        output.EnsureCaptured(ActivationKind.HiddenStates);        // the one, explicit re-run
        var layer0 = output.Tokens(0).Mean();
        using (var scope = NewDisposeScope())
        {
            var expected = (output.HiddenState(0) * output.AttentionMask.unsqueeze(-1)).sum(1) / output.AttentionMask.sum(1, keepdim: true);
            Assert.True(TensorAssert.MaxAbsDiff(expected, layer0) < 1e-6);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => output.HiddenStates(^4..)); // 3 hidden states only
        Assert.Throws<ArgumentOutOfRangeException>(() => output.Tokens(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => output.Tokens(-4));

        // inputs_embeds outputs cannot re-run: they say what to capture instead.
        using var rows = m.Vocabulary.Vectors([101, 7592, 102]);
        using var embeds = rows.unsqueeze(0);
        using var fromEmbeds = m.EncodeEmbeddings(embeds);
        var last = fromEmbeds.Tokens().Mean();
        Assert.Equal(m.HiddenSize, last.Dimension);
        var cannot = Assert.Throws<NotCapturedException>(() => fromEmbeds.EnsureCaptured(ActivationKind.HiddenStates));
        Assert.Contains("HiddenStates", cannot.Message);
        using var captured = m.EncodeEmbeddings(embeds, capture: new CaptureOptions { Kinds = ActivationKind.HiddenStates });
        var ok = captured.HiddenStates(^2..).Mean().Tokens().Mean();
        Assert.Equal(m.HiddenSize, ok.Dimension);
    }

    [Fact]
    public void Layer_reductions_sum_concat_and_weighted_follow_their_definitions()
    {
        var m = ModelCache.Get("bert-tiny-uncased");
        var golden = ModelCache.Golden("bert-tiny-uncased");
        using var inputs = GoldenTokens.IdInputs(m, golden, "");
        using var output = m.Encode(inputs, new CaptureOptions { Kinds = ActivationKind.HiddenStates });
        var h1 = output.Tokens(1).Mean();
        var h2 = output.Tokens(2).Mean();
        var sum = output.HiddenStates(1..).Sum().Tokens().Mean();
        var concat = output.HiddenStates(1..).Concat().Tokens().Mean();
        var weighted = output.HiddenStates(1, 2).Weighted([1f, 3f]).Tokens().Mean();
        Assert.Equal(2 * m.HiddenSize, concat.Dimension);
        for (var i = 0; i < h1.Count; i++)
        {
            var a = h1.Row(i).ToArray();
            var b = h2.Row(i).ToArray();
            AssertClose(sum.Row(i), a.Zip(b, (x, y) => x + y).ToArray(), 1e-5, "sum");
            AssertClose(concat.Row(i), a.Concat(b).ToArray(), 1e-6, "concat");
            AssertClose(weighted.Row(i), a.Zip(b, (x, y) => (x + 3 * y) / 4).ToArray(), 1e-5, "weighted");
        }
        Assert.Throws<ArgumentException>(() => output.HiddenStates(1..).Weighted([1f]));
    }

    [Fact]
    public void Attention_weighted_pooling_uses_the_first_token_row_averaged_over_heads()
    {
        var m = ModelCache.Get("all-MiniLM-L6-v2");
        var golden = ModelCache.Golden("all-MiniLM-L6-v2");
        using var inputs = GoldenTokens.IdInputs(m, golden, "");
        using var output = m.Encode(inputs);
        var error = Assert.Throws<NotCapturedException>(() => output.Tokens().AttentionWeighted(-1));
        Assert.Contains("ActivationKind.Attentions", error.Message);
        output.EnsureCaptured(ActivationKind.Attentions);
        var pooled = output.Tokens().AttentionWeighted(-1);
        using var scope = NewDisposeScope();
        var mask = golden["attention_mask"].to(ScalarType.Float32);
        var w = golden["attentions.5"].mean([1]).select(1, 0) * mask;
        w = w / w.sum(1, keepdim: true);
        var expected = (golden["last_hidden_state"] * w.unsqueeze(-1)).sum(1);
        var d = TensorAssert.MaxAbsDiff(expected, pooled);
        Assert.True(d < 1e-4, $"attention-weighted: {d:E3}");
    }

    [Fact]
    public void Excluding_special_tokens_pools_only_the_others()
    {
        var m = ModelCache.Get("roberta-tiny");
        var tokens = GoldenTokens.Load("roberta-tiny", "pairs.");
        using var inputs = EncoderInputs.Create(tokens, m.Tokenizer.PadTokenId);
        using var output = m.Encode(inputs);
        var mean = output.Tokens().WithoutSpecialTokens().Mean();
        var cls = output.Tokens().WithoutSpecialTokens().Cls();
        var last = output.Tokens().WithoutSpecialTokens().LastToken();
        var h = output.HiddenStates(-1).Mean().ToTensor();   // a copy of the last hidden state, as float32
        var hidden = h.data<float>().ToArray();
        h.Dispose();
        var (s, d) = (output.SequenceLength, m.HiddenSize);
        for (var i = 0; i < tokens.Count; i++)
        {
            var keep = Enumerable.Range(0, tokens[i].Count).Where(t => tokens[i].SpecialTokensMask[t] == 0).ToList();
            if (keep.Count == 0) continue;
            var expected = new float[d];
            foreach (var t in keep)
                for (var k = 0; k < d; k++) expected[k] += hidden[(i * s + t) * d + k] / keep.Count;
            AssertClose(mean.Row(i), expected, 1e-5, $"row {i} mean without specials");
            AssertClose(cls.Row(i), hidden.AsSpan((i * s + keep[0]) * d, d).ToArray(), 1e-6, $"row {i} first non-special");
            AssertClose(last.Row(i), hidden.AsSpan((i * s + keep[^1]) * d, d).ToArray(), 1e-6, $"row {i} last non-special");
        }

        // From ids there is no special-tokens mask: say so rather than guess.
        using var idsOnly = EncoderInputs.Create(tokens.Select(t => (IReadOnlyList<int>)t.Ids.ToArray()).ToList(), m.Tokenizer.PadTokenId);
        using var plain = m.Encode(idsOnly);
        var missing = Assert.Throws<NotCapturedException>(() => plain.Tokens().WithoutSpecialTokens().Mean());
        Assert.Equal("tokenization", missing.Name);
    }

    internal static void AssertClose(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = 0.0;
        for (var i = 0; i < actual.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
        Assert.True(worst <= tolerance, $"{what}: max abs difference {worst:E3} exceeds {tolerance:E0}");
    }
}

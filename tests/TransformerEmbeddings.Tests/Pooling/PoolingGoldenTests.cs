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
        using var output = m.Forward(inputs); // nothing captured: last4_mean must capture itself

        using var cls = output.Cls();
        using var mean = output.Mean();
        using var normalized = output.LastLayer().Tokens().Mean().Normalize();
        using var max = output.LastLayer().Tokens().Max();
        var n = Math.Min(4, output.LayerCount + 1);
        using var last4 = output.Layers(^n..).Mean().Tokens().Mean();

        var compared = 0;
        foreach (var (name, actual, tol) in new[]
                 {
                     ("pool.cls", cls, 1e-5), ("pool.mean", mean, 1e-5), ("pool.mean_normalized", normalized, 1e-5),
                     ("pool.max", max, 1e-5), ("pool.last4_mean", last4, 1e-4),
                 })
        {
            Assert.True(golden.Has(batch + name), $"{golden.Path} has no {batch + name}");
            var d = TensorAssert.MaxAbsDiff(golden[batch + name], actual.Tensor, null);
            log.WriteLine($"{model} {batch}{name}: {d:E2}");
            Assert.True(d <= tol, $"{model} {batch}{name}: max abs difference {d:E3} exceeds {tol:E0}");
            compared++;
        }
        Assert.Equal(5, compared);
        Assert.Contains($"hidden_states.{output.LayerCount + 1 - n}", output.CapturedNames);
    }

    [Theory]
    [InlineData("all-MiniLM-L6-v2")]
    [InlineData("roberta-tiny")]
    public void A_sentence_alone_and_inside_a_padded_batch_pool_the_same(string model)
    {
        var m = ModelCache.Get(model);
        var golden = ModelCache.Golden(model);
        using var inputs = GoldenTokens.IdInputs(m, golden, "");
        using var batch = m.Forward(inputs);
        var rows = GoldenTensors.RealRows(golden["input_ids"], golden["attention_mask"]);
        var modes = Enum.GetValues<TokenPooling>();
        var pooled = modes.Select(mode => batch.LastLayer().Tokens().Pool(mode)).ToArray();
        using var batchWeighted = batch.LastLayer().Tokens().AttentionWeighted();
        for (var i = 0; i < rows.Count; i++)
        {
            using var alone = EncoderInputs.FromIds([rows[i]], m.Tokenizer.PadTokenId);
            using var single = m.Forward(alone);
            for (var k = 0; k < modes.Length; k++)
            {
                using var one = single.LastLayer().Tokens().Pool(modes[k]);
                AssertClose(one.Row(0), pooled[k].Row(i), 1e-5, $"{model} row {i} {modes[k]}");
            }
            using var weighted = single.LastLayer().Tokens().AttentionWeighted();
            AssertClose(weighted.Row(0), batchWeighted.Row(i), 1e-5, $"{model} row {i} attention-weighted");
        }
        foreach (var p in pooled) p.Dispose();
    }

    [Fact]
    public void Layer_ranges_capture_what_they_need_or_fail_naming_it()
    {
        var m = ModelCache.Get("bert-tiny-uncased");
        var golden = ModelCache.Golden("bert-tiny-uncased");
        using var inputs = GoldenTokens.IdInputs(m, golden, "");
        using var output = m.Forward(inputs);
        Assert.Empty(output.CapturedNames);
        using var layer0 = output.Layer(0).Tokens().Mean();
        Assert.Contains("hidden_states.0", output.CapturedNames);
        using (var scope = NewDisposeScope())
        {
            var expected = (output.HiddenState(0) * output.AttentionMask.unsqueeze(-1)).sum(1) / output.AttentionMask.sum(1, keepdim: true);
            Assert.True(TensorAssert.MaxAbsDiff(expected, layer0.Tensor, null) < 1e-6);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => output.Layers(^4..)); // 3 hidden states only
        Assert.Throws<ArgumentOutOfRangeException>(() => output.Layer(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => output.Layer(-4));

        // inputs_embeds outputs cannot re-run: a pooling over a layer that was not captured must say what to capture.
        using var rows = m.EmbeddingRows([101, 7592, 102]);
        using var embeds = rows.unsqueeze(0);
        using var fromEmbeds = m.ForwardEmbeddings(embeds);
        using var last = fromEmbeds.LastLayer().Tokens().Mean();
        var error = Assert.Throws<InvalidOperationException>(() => fromEmbeds.Layers(^2..).Mean().Tokens().Mean());
        Assert.Contains("HiddenStates", error.Message);
        using var captured = m.ForwardEmbeddings(embeds, capture: new CaptureOptions { Kinds = ActivationKind.HiddenStates });
        using var ok = captured.Layers(^2..).Mean().Tokens().Mean();
        Assert.Equal(m.HiddenSize, ok.Dimension);
    }

    [Fact]
    public void Layer_reductions_sum_concat_and_weighted_follow_their_definitions()
    {
        var m = ModelCache.Get("bert-tiny-uncased");
        var golden = ModelCache.Golden("bert-tiny-uncased");
        using var inputs = GoldenTokens.IdInputs(m, golden, "");
        using var output = m.Forward(inputs, new CaptureOptions { Kinds = ActivationKind.HiddenStates });
        using var h1 = output.Layer(1).Tokens().Mean();
        using var h2 = output.Layer(2).Tokens().Mean();
        using var sum = output.Layers(1..).Sum().Tokens().Mean();
        using var concat = output.Layers(1..).Concat().Tokens().Mean();
        using var weighted = output.Layers(1, 2).Weighted([1f, 3f]).Tokens().Mean();
        Assert.Equal(2 * m.HiddenSize, concat.Dimension);
        for (var i = 0; i < h1.Count; i++)
        {
            var a = h1.Row(i).ToArray();
            var b = h2.Row(i).ToArray();
            AssertClose(sum.Row(i), a.Zip(b, (x, y) => x + y).ToArray(), 1e-5, "sum");
            AssertClose(concat.Row(i), a.Concat(b).ToArray(), 1e-6, "concat");
            AssertClose(weighted.Row(i), a.Zip(b, (x, y) => (x + 3 * y) / 4).ToArray(), 1e-5, "weighted");
        }
        Assert.Throws<ArgumentException>(() => output.Layers(1..).Weighted([1f]));
    }

    [Fact]
    public void Attention_weighted_pooling_uses_the_first_token_row_averaged_over_heads()
    {
        var m = ModelCache.Get("all-MiniLM-L6-v2");
        var golden = ModelCache.Golden("all-MiniLM-L6-v2");
        using var inputs = GoldenTokens.IdInputs(m, golden, "");
        using var output = m.Forward(inputs);
        using var pooled = output.LastLayer().Tokens().AttentionWeighted(-1);
        using var scope = NewDisposeScope();
        var mask = golden["attention_mask"].to(ScalarType.Float32);
        var w = golden["attentions.5"].mean([1]).select(1, 0) * mask;
        w = w / w.sum(1, keepdim: true);
        var expected = (golden["last_hidden_state"] * w.unsqueeze(-1)).sum(1);
        var d = TensorAssert.MaxAbsDiff(expected, pooled.Tensor, null);
        Assert.True(d < 1e-4, $"attention-weighted: {d:E3}");
    }

    [Fact]
    public void Excluding_special_tokens_pools_only_the_others()
    {
        var m = ModelCache.Get("roberta-tiny");
        var tokens = GoldenTokens.Load("roberta-tiny", "pairs.");
        using var inputs = EncoderInputs.FromTokenized(tokens, m.Tokenizer.PadTokenId);
        using var output = m.Forward(inputs);
        using var mean = output.LastLayer().Tokens().WithoutSpecialTokens().Mean();
        using var cls = output.LastLayer().Tokens().WithoutSpecialTokens().Cls();
        using var last = output.LastLayer().Tokens().WithoutSpecialTokens().LastToken();
        var h = output.LastLayer().ToTensor();
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
        using var idsOnly = EncoderInputs.FromIds(tokens.Select(t => (IReadOnlyList<int>)t.Ids.ToArray()).ToList(), m.Tokenizer.PadTokenId);
        using var plain = m.Forward(idsOnly);
        Assert.Throws<InvalidOperationException>(() => plain.LastLayer().Tokens().WithoutSpecialTokens().Mean());
    }

    internal static void AssertClose(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = 0.0;
        for (var i = 0; i < actual.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
        Assert.True(worst <= tolerance, $"{what}: max abs difference {worst:E3} exceeds {tolerance:E0}");
    }
}

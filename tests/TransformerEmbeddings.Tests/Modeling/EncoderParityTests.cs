using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Modeling;

/// <summary>
/// The whole model and every captured internal against ../shared/golden (computed by HF in float64), for all four
/// models and all three batches, within 1e-4 at real positions. Inputs are the golden ids, so these tests do not
/// depend on the tokenizer (the tokenizer has its own parity tests).
/// </summary>
public sealed class EncoderParityTests(ITestOutputHelper output)
{
    public const double Tolerance = 1e-4;

    [Theory]
    [MemberData(nameof(SharedData.ModelsAndBatches), MemberType = typeof(SharedData))]
    public void Every_golden_tensor_matches_within_tolerance(string model, string batch)
    {
        var m = ModelCache.Get(model);
        var golden = ModelCache.Golden(model);
        var ids = golden[batch + "input_ids"];
        var mask = golden[batch + "attention_mask"];
        using var inputs = EncoderInputs.Create(
            GoldenTensors.RealRows(ids, mask), m.Tokenizer.PadTokenId, GoldenTensors.RealRows(golden[batch + "token_type_ids"], mask));
        using var result = m.Encode(inputs, CaptureOptions.Everything);

        TensorAssert.Equal(ids, result.InputIds, mask, "input_ids");
        TensorAssert.Equal(golden[batch + "position_ids"], result.PositionIds, mask, "position_ids");

        var compared = 0;
        var worst = 0.0;
        foreach (var name in golden.Names.Where(n => n.StartsWith(batch, StringComparison.Ordinal)).Order())
        {
            var local = name[batch.Length..];
            if (batch.Length == 0 && (local.StartsWith("pairs.", StringComparison.Ordinal) || local.StartsWith("long.", StringComparison.Ordinal))) continue;
            var kind = local.Split('.')[0];
            int sequenceDim;
            switch (kind)
            {
                case "word_embeddings" or "hidden_states" or "last_hidden_state" or "attention_output" or "intermediate":
                    sequenceDim = 1;
                    break;
                case "attentions" or "query" or "key" or "value" or "context":
                    sequenceDim = 2; // (B, heads, S, ·): rows at real query positions
                    break;
                case "pooler_output":
                    sequenceDim = -1;
                    break;
                default:
                    continue; // pool.*, mlm_*, head_mask*, st.*: other issues' contracts
            }
            var actual = result[local];
            var d = sequenceDim < 0
                ? TensorAssert.MaxAbsDiff(golden[name], actual, null)
                : TensorAssert.MaxAbsDiff(golden[name], actual, mask, sequenceDim);
            worst = Math.Max(worst, d);
            compared++;
            Assert.True(d <= Tolerance, $"{model} {name}: max abs difference {d:E3} exceeds {Tolerance:E0}");
        }

        output.WriteLine($"{model} {(batch == "" ? "sentences" : batch.TrimEnd('.'))}: {compared} tensors, max abs diff {worst:E3}");
        Assert.True(compared >= (batch == "long." ? 1 : 3), $"only {compared} golden tensors were compared");
        Assert.Equal(golden.Has(batch + "pooler_output"), m.Checkpoint.HasPooler);
    }

    [Theory]
    [InlineData("all-MiniLM-L6-v2")]
    [InlineData("bert-tiny-uncased")]
    [InlineData("bert-tiny-cased-sharded")]
    [InlineData("roberta-tiny")]
    public void Plain_forward_equals_the_traced_forward(string model)
    {
        // The fast path (fused attention, nothing captured) must agree with the eager path HF uses.
        var m = ModelCache.Get(model);
        var golden = ModelCache.Golden(model);
        var mask = golden["attention_mask"];
        using var inputs = EncoderInputs.Create(GoldenTensors.RealRows(golden["input_ids"], mask), m.Tokenizer.PadTokenId);
        using var plain = m.Encode(inputs);
        using var traced = m.Encode(inputs, new CaptureOptions { Kinds = ActivationKind.Attentions });
        Assert.Empty(plain.CapturedNames);
        TensorAssert.Close(traced.LastHiddenState, plain.LastHiddenState, mask, 1e-5, "fused vs eager");
        // The path users get (CPU kernels, nothing captured) against HF directly.
        var d = TensorAssert.MaxAbsDiff(golden["last_hidden_state"], plain.LastHiddenState, mask, 1);
        output.WriteLine($"{model} plain forward: last_hidden_state max abs diff {d:E3}");
        Assert.True(d <= Tolerance, $"{model} plain last_hidden_state: max abs difference {d:E3} exceeds {Tolerance:E0}");
    }
}

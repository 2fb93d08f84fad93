using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Tests.Pooling;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Modeling;

/// <summary>
/// DistilBERT, MPNet and XLM-RoBERTa against the float64 reference of HF's modeling files (Fixtures/Families): every
/// golden tensor of every folder and batch within 1e-4 at real positions (inputs are the golden ids, so the tokenizer
/// has its own test below), the plain forward users get, the head mask and the MLM heads.
/// </summary>
public sealed class FamilyParityTests(ITestOutputHelper output)
{
    private const double Tolerance = EncoderParityTests.Tolerance;

    internal static EncoderInputs IdInputs(TransformerModel model, GoldenTensors golden, string batch) =>
        GoldenTokens.IdInputs(model, golden, batch);

    /// <summary>(batch, sequence) dims of a golden tensor kind; -1 for one vector per row; null for tensors that are not activations.</summary>
    internal static int? SequenceDim(string kind) => kind switch
    {
        "word_embeddings" or "hidden_states" or "last_hidden_state" or "attention_output" or "intermediate" => 1,
        "attentions" or "query" or "key" or "value" or "context" => 2,
        "pooler_output" => -1,
        _ => null,
    };

    [Theory]
    [MemberData(nameof(FamilyFixtures.ModelsAndBatches), MemberType = typeof(FamilyFixtures))]
    public void Every_golden_tensor_matches_within_tolerance(string model, string batch)
    {
        var m = FamilyFixtures.Model(model);
        var golden = FamilyFixtures.Golden(model);
        var mask = golden[batch + "attention_mask"];
        using var inputs = IdInputs(m, golden, batch);
        using var result = m.Encode(inputs, CaptureOptions.Everything);

        TensorAssert.Equal(golden[batch + "input_ids"], result.InputIds, mask, "input_ids");
        TensorAssert.Equal(golden[batch + "position_ids"], result.PositionIds, mask, "position_ids");

        var worstByKind = new SortedDictionary<string, double>(StringComparer.Ordinal);
        foreach (var name in golden.Names.Where(n => n.StartsWith(batch, StringComparison.Ordinal)).Order())
        {
            var local = name[batch.Length..];
            if (batch.Length == 0 && (local.StartsWith("pairs.", StringComparison.Ordinal) || local.StartsWith("long.", StringComparison.Ordinal))) continue;
            var kind = local.Split('.')[0];
            if (SequenceDim(kind) is not { } sequenceDim) continue; // pool.*, mlm_*, head_mask*, st.*: tested below and elsewhere
            var d = sequenceDim < 0
                ? TensorAssert.MaxAbsDiff(golden[name], result[local], null)
                : TensorAssert.MaxAbsDiff(golden[name], result[local], mask, sequenceDim);
            worstByKind[kind] = Math.Max(worstByKind.GetValueOrDefault(kind), d);
            Assert.True(d <= Tolerance, $"{model} {name}: max abs difference {d:E3} exceeds {Tolerance:E0}");
        }

        output.WriteLine($"{model} {(batch == "" ? "sentences" : batch.TrimEnd('.'))}: " +
                         string.Join(", ", worstByKind.Select(p => $"{p.Key} {p.Value:E2}")));
        var expectedKinds = batch == "long." ? 1 : FamilyFixtures.BaseModels.Contains(model) ? 10 : 3;
        Assert.True(worstByKind.Count >= expectedKinds, $"only {worstByKind.Count} kinds compared: {string.Join(", ", worstByKind.Keys)}");
        Assert.Equal(golden.Has(batch + "pooler_output"), m.Checkpoint.HasPooler);
    }

    [Theory]
    [MemberData(nameof(FamilyFixtures.AllModels), MemberType = typeof(FamilyFixtures))]
    public void Plain_forward_equals_the_traced_forward_and_the_reference(string model)
    {
        var m = FamilyFixtures.Model(model);
        var golden = FamilyFixtures.Golden(model);
        foreach (var batch in new[] { "", "pairs.", "long." })
        {
            var mask = golden[batch + "attention_mask"];
            using var inputs = IdInputs(m, golden, batch);
            using var plain = m.Encode(inputs);
            using var traced = m.Encode(inputs, new CaptureOptions { Kinds = ActivationKind.Attentions });
            Assert.Empty(plain.CapturedNames);
            TensorAssert.Close(traced.LastHiddenState, plain.LastHiddenState, mask, 1e-5, $"{model} {batch}: fused vs eager");
            var d = TensorAssert.MaxAbsDiff(golden[batch + "last_hidden_state"], plain.LastHiddenState, mask, 1);
            output.WriteLine($"{model} {(batch == "" ? "sentences" : batch.TrimEnd('.'))} plain forward: last_hidden_state max abs diff {d:E2}");
            Assert.True(d <= Tolerance, $"{model} {batch}plain last_hidden_state: max abs difference {d:E3}");
        }
    }

    [Theory]
    [MemberData(nameof(FamilyFixtures.AllModels), MemberType = typeof(FamilyFixtures))]
    public void Pooled_vectors_match_the_golden_pools(string model)
    {
        var m = FamilyFixtures.Model(model);
        var golden = FamilyFixtures.Golden(model);
        foreach (var batch in new[] { "", "pairs.", "long." })
        {
            using var inputs = IdInputs(m, golden, batch);
            using var result = m.Encode(inputs, new CaptureOptions { Kinds = ActivationKind.HiddenStates }); // last4_mean reads them
            var mean = result.Tokens().Mean();
            var normalized = result.Tokens().Mean().Normalize();
            var cls = result.Tokens().Cls();
            var max = result.Tokens().Max();
            var n = Math.Min(4, result.LayerCount + 1);
            var last4 = result.HiddenStates(^n..).Mean().Tokens().Mean();
            foreach (var (name, actual) in new[] { ("pool.mean", mean), ("pool.mean_normalized", normalized), ("pool.cls", cls), ("pool.max", max), ("pool.last4_mean", last4) })
                TensorAssert.Close(golden[batch + name], actual, Tolerance, $"{model} {batch}{name}");
        }
    }

    [Theory]
    [MemberData(nameof(FamilyFixtures.AllModels), MemberType = typeof(FamilyFixtures))]
    public void Head_mask_matches_the_golden_head_masked_output(string model)
    {
        var m = FamilyFixtures.Model(model);
        var golden = FamilyFixtures.Golden(model);
        using var inputs = IdInputs(m, golden, "");
        var headMask = golden["head_mask"];
        var rows = Enumerable.Range(0, (int)headMask.shape[0]).Select(l => headMask[l].data<float>().ToArray()).ToArray();
        using var masked = m.Encode(inputs, new CaptureOptions { HeadMask = rows });
        var d = TensorAssert.MaxAbsDiff(golden["head_masked.last_hidden_state"], masked.LastHiddenState, golden["attention_mask"]);
        output.WriteLine($"{model}: head_masked.last_hidden_state max abs diff {d:E2}");
        Assert.True(d <= Tolerance, $"{model} head_masked.last_hidden_state: {d:E3}");
        using var plain = m.Encode(inputs);
        Assert.True(TensorAssert.MaxAbsDiff(plain.LastHiddenState, masked.LastHiddenState, golden["attention_mask"]) > 1e-3, "the head mask changed nothing");
    }

    [Theory]
    [MemberData(nameof(FamilyFixtures.WithHeads), MemberType = typeof(FamilyFixtures))]
    public void Masked_language_model_logits_match_the_golden_logits_and_top5(string model)
    {
        var m = FamilyFixtures.Model(model);
        var golden = FamilyFixtures.Golden(model);
        Assert.True(m.MaskedLanguageModel is not null);
        using var inputs = IdInputs(m, golden, "");
        using var result = m.Encode(inputs);
        var rows = golden["mlm_rows"];
        var positions = Enumerable.Range(0, (int)rows.shape[0]).Select(i => ((int)rows[i, 0].item<long>(), (int)rows[i, 1].item<long>())).ToList();
        Assert.NotEmpty(positions);
        using var logits = m.MaskedLanguageModel!.Logits(result, positions);
        var d = TensorAssert.MaxAbsDiff(golden["mlm_logits_selected"], logits, null);
        output.WriteLine($"{model}: mlm_logits_selected ({positions.Count} masks × {logits.shape[1]}) max abs diff {d:E2}");
        Assert.True(d <= Tolerance, $"{model} mlm_logits_selected: {d:E3}");

        // From text: the tokenizer finds the same mask tokens and the head ranks the same five candidates.
        var (sentences, _, _) = GoldenInputs.For(m);
        var predictions = m.MaskedLanguageModel!.Predict(sentences, topK: 5);
        Assert.Equal(positions, predictions.Select(p => (p.Sequence, p.Position)).ToList());
        for (var n = 0; n < predictions.Count; n++)
            Assert.Equal(golden["mlm_top5_ids"][n].data<long>().Select(i => (int)i).ToArray(), predictions[n].Candidates.Select(c => c.Id).ToArray());
    }

    [Theory]
    [MemberData(nameof(FamilyFixtures.Bases), MemberType = typeof(FamilyFixtures))]
    public void Base_checkpoints_have_no_head(string model)
    {
        var m = FamilyFixtures.Model(model);
        Assert.Null(m.MaskedLanguageModel);
        Assert.False(m.Checkpoint.HasMaskedLanguageModelHead);
    }

    [Theory]
    [MemberData(nameof(FamilyFixtures.AllModels), MemberType = typeof(FamilyFixtures))]
    public void The_tokenizer_reproduces_HF_on_the_golden_inputs_and_the_model_encodes_them_from_text(string model)
    {
        var m = FamilyFixtures.Model(model);
        var golden = FamilyFixtures.Golden(model);
        var (sentences, pairs, longText) = GoldenInputs.For(m);
        var path = FamilyFixtures.TokensFile(model);
        var expected = new Dictionary<string, IReadOnlyList<TransformerEmbeddings.Tokenization.TokenizedText>>
        {
            [""] = GoldenTokens.LoadFile(path, ""),
            ["pairs."] = GoldenTokens.LoadFile(path, "pairs."),
            ["long."] = GoldenTokens.LoadFile(path, "long."),
        };
        var actual = new Dictionary<string, IReadOnlyList<TransformerEmbeddings.Tokenization.TokenizedText>>
        {
            [""] = m.Tokenizer.EncodeBatch(sentences),
            ["pairs."] = m.Tokenizer.EncodeBatch(pairs),
            ["long."] = m.Tokenizer.EncodeBatch([longText]),
        };
        foreach (var (batch, rows) in expected)
        {
            Assert.Equal(rows.Count, actual[batch].Count);
            for (var i = 0; i < rows.Count; i++)
            {
                var (e, a) = (rows[i], actual[batch][i]);
                var label = $"{model} {batch}[{i}]";
                Assert.True(e.Ids.SequenceEqual(a.Ids), $"{label} ids: expected {string.Join(" ", e.Tokens)}, got {string.Join(" ", a.Tokens)}");
                Assert.Equal(e.Tokens, a.Tokens);
                Assert.Equal(e.Offsets, a.Offsets);
                Assert.Equal(e.WordIds, a.WordIds);
                Assert.Equal(e.TypeIds, a.TypeIds);
                Assert.Equal(e.SpecialTokensMask, a.SpecialTokensMask);
                Assert.Equal(e.SequenceIds, a.SequenceIds);
            }
        }

        // Text in, the reference's numbers out (the path te dump and SentenceEmbedder take).
        using var fromText = m.Encode(sentences);
        TensorAssert.Close(golden["last_hidden_state"], fromText.LastHiddenState, golden["attention_mask"], Tolerance, $"{model} Encode(sentences)");
        using var fromPairs = m.Encode(pairs);
        TensorAssert.Close(golden["pairs.last_hidden_state"], fromPairs.LastHiddenState, golden["pairs.attention_mask"], Tolerance, $"{model} Encode(pairs)");
    }
}

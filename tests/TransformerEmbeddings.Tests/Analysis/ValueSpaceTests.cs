using TransformerEmbeddings.Analysis;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Analysis;

/// <summary>
/// Vocabulary in value space against every query of ../shared/golden/*.nearest.json, and one test per mistake of the
/// published "Attention Encodings" code: each mistaken formula gives another answer than the golden one.
/// </summary>
public sealed class ValueSpaceTests(ITestOutputHelper log)
{
    private static ValueSpaceNeighbors Run(string name, NearestGolden.Query q, ValueSpaceFormula? formula = null, VocabularyInput input = VocabularyInput.EmbeddingOutput)
    {
        var model = ModelCache.Get(name);
        var (sentences, _, _) = GoldenInputs.For(model);
        using var output = model.Encode(sentences, new CaptureOptions { Kinds = ActivationKind.Contexts | ActivationKind.HiddenStates, Layers = [q.Layer] });
        var options = new NearestOptions { K = q.Heads[0].Cosine.Ids.Length, Vocabulary = input };
        return new ValueSpace(model, q.Layer).Nearest(output, q.Sequence, q.Position, options, formula ?? ValueSpaceFormula.Correct);
    }

    [Theory]
    [MemberData(nameof(NearestGolden.Queries), MemberType = typeof(NearestGolden))]
    public void Nearest_vocabulary_tokens_equal_the_golden_query(string name, int index)
    {
        var q = NearestGolden.For(name)[index];
        var result = Run(name, q);
        Assert.Equal(q.TokenId, result.TokenId);
        Assert.Equal(q.Heads.Select(h => h.Index), result.Heads.Select(h => h.Head));
        double worst = 0;
        foreach (var (expected, actual) in q.Heads.Zip(result.Heads))
        {
            foreach (var (e, a, metric) in new[] { (expected.Cosine, actual.Cosine!, DistanceMetric.Cosine), (expected.Euclidean, actual.Euclidean!, DistanceMetric.Euclidean) })
            {
                Assert.Equal(e.Ids, a.Tokens.Select(t => (long)t.Id));
                if (e.SelfRank != a.SelfRank)
                {
                    // The target comes from the float32 forward pass (within ~1e-6 of the float64 reference): a token whose
                    // distance ties the token's own one to below that cannot be ordered, so only such ties may move the rank.
                    var ties = TiesWithSelf(name, q, expected.Index, metric, 1e-6);
                    log.WriteLine($"{name} layer {q.Layer} head {expected.Index} {metric}: self rank {a.SelfRank}, golden {e.SelfRank}; {ties} token(s) within 1e-6 of the self distance");
                    Assert.InRange(Math.Abs(e.SelfRank - a.SelfRank!.Value), 1, ties);
                }
                for (var i = 0; i < e.Distances.Length; i++)
                    worst = Math.Max(worst, Math.Abs(e.Distances[i] - a.Tokens[i].Distance));
                Assert.All(a.Tokens, t => Assert.Equal(ModelCache.Get(name).Tokenizer.IdToToken(t.Id), t.Token));
            }
        }
        log.WriteLine($"{name} layer {q.Layer}: max distance difference {worst:E2}");
        Assert.True(worst <= 1e-4, $"max distance difference {worst:E2}");
    }

    /// <summary>How many other tokens lie within <paramref name="epsilon"/> of the query token's own distance (from the raw projected vocabulary).</summary>
    private static int TiesWithSelf(string name, NearestGolden.Query q, int head, DistanceMetric metric, double epsilon)
    {
        var model = ModelCache.Get(name);
        var (sentences, _, _) = GoldenInputs.For(model);
        using var output = model.Encode(sentences, new CaptureOptions { Kinds = ActivationKind.Contexts, Layers = [q.Layer] });
        using var projected = new ValueSpace(model, q.Layer).ProjectVocabulary(output.PositionIds[q.Sequence, q.Position].item<long>());
        using var scope = NewDisposeScope();
        var v = projected[.., head].to(ScalarType.Float64);
        var t = output.Contexts(q.Layer)[q.Sequence, head, q.Position].to(ScalarType.Float64);
        var d = metric == DistanceMetric.Cosine ? 1 - (v * t).sum(-1) / (v.norm(-1) * t.norm(-1)) : (v - t).norm(-1);
        return (int)((d - d[q.TokenId]).abs() < epsilon).to(ScalarType.Int64).sum().item<long>() - 1;
    }

    /// <summary>How many (head, metric) rankings of a result differ from the golden query's (ids, self rank or a distance past 1e-4).</summary>
    private static int Differences(NearestGolden.Query q, ValueSpaceNeighbors result)
    {
        var differing = 0;
        foreach (var (expected, actual) in q.Heads.Zip(result.Heads))
        {
            foreach (var (e, a) in new[] { (expected.Cosine, actual.Cosine!), (expected.Euclidean, actual.Euclidean!) })
            {
                var same = e.Ids.SequenceEqual(a.Tokens.Select(t => (long)t.Id)) && e.SelfRank == a.SelfRank
                           && e.Distances.Zip(a.Tokens).All(p => Math.Abs(p.First - p.Second.Distance) <= 1e-4);
                if (!same) differing++;
            }
        }
        return differing;
    }

    private void AssertMistakeChangesTheAnswer(string name, Func<NearestGolden.Query, bool> which, ValueSpaceFormula mistake, string what)
    {
        var q = NearestGolden.For(name).First(which);
        Assert.Equal(0, Differences(q, Run(name, q)));
        var wrong = Differences(q, Run(name, q, mistake));
        log.WriteLine($"{what}: {wrong} of {2 * q.Heads.Length} rankings differ from the golden query ({name}, layer {q.Layer})");
        Assert.True(wrong > 0, $"{what} gave the golden answer");
    }

    [Theory]
    [InlineData("all-MiniLM-L6-v2")]
    [InlineData("roberta-tiny")]
    public void Multiplying_by_the_value_weight_instead_of_its_transpose_gives_another_answer(string name) =>
        AssertMistakeChangesTheAnswer(name, _ => true, ValueSpaceFormula.Correct with { TransposeWeight = false }, "x W instead of x Wᵀ");

    [Theory]
    [InlineData("all-MiniLM-L6-v2")]
    [InlineData("roberta-tiny")]
    public void Dropping_the_value_bias_gives_another_answer(string name) =>
        AssertMistakeChangesTheAnswer(name, _ => true, ValueSpaceFormula.Correct with { ValueBias = false }, "no value bias");

    [Fact]
    public void Leaving_out_RoBERTas_token_type_embedding_gives_another_answer() =>
        AssertMistakeChangesTheAnswer("roberta-tiny", _ => true, ValueSpaceFormula.Correct with { TokenType = false }, "no token-type embedding");

    [Theory]
    [InlineData("all-MiniLM-L6-v2")]
    [InlineData("roberta-tiny")]
    public void Using_layer_0_value_weights_for_a_later_layer_gives_another_answer(string name) =>
        AssertMistakeChangesTheAnswer(name, q => q.Layer > 0, ValueSpaceFormula.Correct with { WeightsOfLayer = 0 }, "layer 0's value weights");

    [Fact]
    public void The_projected_vocabulary_holds_the_rows_the_search_ranks()
    {
        var model = ModelCache.Get("bert-tiny-uncased");
        var q = NearestGolden.For("bert-tiny-uncased")[1];
        var space = new ValueSpace(model, q.Layer);
        using var projected = space.ProjectVocabulary(positionId: q.Position);           // BERT: position id = position
        Assert.Equal(new long[] { model.Config.VocabSize, model.Config.NumAttentionHeads, model.Config.HeadDim }, projected.shape);
        var (sentences, _, _) = GoldenInputs.For(model);
        using var output = model.Encode(sentences, new CaptureOptions { Kinds = ActivationKind.Contexts, Layers = [q.Layer] });
        using var scope = NewDisposeScope();
        var target = output.Contexts(q.Layer)[q.Sequence, 0, q.Position].to(ScalarType.Float64);
        // The nearest token of head 0 by Euclidean distance, from the raw matrix: the same id and distance.
        var distances = (projected[.., 0].to(ScalarType.Float64) - target).norm(-1);
        var best = distances.argmin().item<long>();
        Assert.Equal(q.Heads[0].Euclidean.Ids[0], best);
        Assert.Equal(q.Heads[0].Euclidean.Distances[0], distances[best].item<double>(), 4);
    }

    [Fact]
    public void A_search_among_the_sequence_finds_the_tokens_own_value_and_other_encodings()
    {
        var model = ModelCache.Get("bert-tiny-uncased");
        using var output = model.Encode(["The bank will not lend money near the river bank."],
            new CaptureOptions { Kinds = ActivationKind.Contexts | ActivationKind.Values, Layers = [0] });
        var space = new ValueSpace(model, 0);
        var length = output.Length(0);
        var contexts = space.NearestInSequence(output, 0, 2, SequenceVectors.Contexts, new NearestOptions { K = 100 });
        foreach (var head in contexts.Heads)
        {
            Assert.Equal(length - 1, head.Cosine!.Tokens.Count);                 // every other real token, itself left out
            Assert.DoesNotContain(head.Cosine.Tokens, t => t.Position == 2);
            Assert.Null(head.Cosine.SelfRank);
            Assert.All(head.Cosine.Tokens, t => Assert.Equal(output.Tokenization![0].Ids[t.Position!.Value], t.Id));
            Assert.True(head.Euclidean!.Tokens.Zip(head.Euclidean.Tokens.Skip(1)).All(p => p.First.Distance <= p.Second.Distance));
        }
        var values = space.NearestInSequence(output, 0, 2, SequenceVectors.Values, new NearestOptions { K = 3, Heads = [-1] });
        Assert.Equal(3, Assert.Single(values.Heads).Head);
        Assert.NotNull(values.Heads[0].Cosine!.SelfRank);
    }

    [Fact]
    public void Other_vocabulary_inputs_and_bad_arguments()
    {
        var model = ModelCache.Get("roberta-tiny");
        using var output = model.Encode(["The bank will not lend money."], new CaptureOptions { Kinds = ActivationKind.Contexts | ActivationKind.HiddenStates, Layers = [0, 1] }); // hidden_states.1 is block 0's output
        var space = new ValueSpace(model, -1);
        Assert.Equal(1, space.Layer);
        var standard = space.Nearest(output, 0, 2, new NearestOptions { K = 5, Metrics = DistanceMetric.Cosine });
        var raw = space.Nearest(output, 0, 2, new NearestOptions { K = 5, Metrics = DistanceMetric.Cosine, Vocabulary = VocabularyInput.WordEmbeddings });
        var matched = space.Nearest(output, 0, 2, new NearestOptions { K = 5, Metrics = DistanceMetric.Cosine, Vocabulary = VocabularyInput.LayerInputStatistics });
        Assert.All(standard.Heads, h => Assert.Null(h.Euclidean));
        Assert.NotEqual(standard.Heads.Select(h => h.Cosine!.SelfRank), raw.Heads.Select(h => h.Cosine!.SelfRank));
        Assert.NotEqual(standard.Heads.Select(h => h.Cosine!.SelfRank), matched.Heads.Select(h => h.Cosine!.SelfRank));

        Assert.Throws<ArgumentOutOfRangeException>(() => new ValueSpace(model, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => space.Nearest(output, 0, 99));
        Assert.Throws<ArgumentOutOfRangeException>(() => space.Nearest(output, 0, 1, new NearestOptions { Heads = [4] }));
        Assert.Throws<ArgumentOutOfRangeException>(() => space.Nearest(output, 0, 1, new NearestOptions { K = 0 }));
        using var plain = model.Encode(["The bank."]);
        var missing = Assert.Throws<NotCapturedException>(() => space.Nearest(plain, 0, 1));
        Assert.Contains("Contexts", missing.Message);
    }
}

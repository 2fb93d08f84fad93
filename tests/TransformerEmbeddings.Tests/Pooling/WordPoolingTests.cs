using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Pooling;

/// <summary>Word vectors against the golden last hidden state grouped by the golden word ids.</summary>
public sealed class WordPoolingTests
{
    [Theory]
    [InlineData("all-MiniLM-L6-v2", "")]
    [InlineData("bert-tiny-cased-sharded", "")]
    [InlineData("roberta-tiny", "")]
    [InlineData("roberta-tiny", "pairs.")]
    [InlineData("bert-tiny-uncased", "pairs.")]
    public void Word_vectors_are_the_mean_of_their_golden_subword_rows(string model, string batch)
    {
        var m = ModelCache.Get(model);
        var golden = ModelCache.Golden(model);
        var tokens = GoldenTokens.Load(model, batch);
        using var inputs = EncoderInputs.Create(tokens, m.Tokenizer.PadTokenId);
        TensorAssert.Equal(golden[batch + "input_ids"], inputs.InputIds, golden[batch + "attention_mask"], "ids from tokens.json");
        using var output = m.Encode(inputs);
        var words = output.Words().Mean();
        var firstLast = output.Words().FirstLast();
        var h = golden[batch + "last_hidden_state"];
        var (s, d) = ((int)h.shape[1], (int)h.shape[2]);
        var hidden = h.contiguous().data<float>().ToArray();
        Assert.Equal(tokens.Count, words.Count);
        var multi = 0;
        for (var b = 0; b < tokens.Count; b++)
        {
            var t = tokens[b];
            var expectedWords = Enumerable.Range(0, t.Count).Where(i => t.WordIds[i] is not null)
                .GroupBy(i => (t.SequenceIds[i], t.WordIds[i])).ToList();
            Assert.Equal(expectedWords.Count, words[b].Count);
            for (var w = 0; w < expectedWords.Count; w++)
            {
                var idx = expectedWords[w].ToList();
                var word = words[b][w];
                Assert.Equal(idx, word.TokenIndices);
                Assert.Equal(expectedWords[w].Key.Item2, word.WordId);
                Assert.Equal(expectedWords[w].Key.Item1, word.SequenceId);
                var expected = new float[d];
                foreach (var i in idx)
                    for (var k = 0; k < d; k++) expected[k] += hidden[(b * s + i) * d + k] / idx.Count;
                PoolingGoldenTests.AssertClose(word.Vector, expected, 1e-4, $"{model} {batch} row {b} word {w}");
                var fl = firstLast[b][w].Vector;
                PoolingGoldenTests.AssertClose(fl.AsSpan(0, d), hidden.AsSpan((b * s + idx[0]) * d, d), 1e-4, "first");
                PoolingGoldenTests.AssertClose(fl.AsSpan(d, d), hidden.AsSpan((b * s + idx[^1]) * d, d), 1e-4, "last");
                if (idx.Count > 1) multi++;
            }
        }
        Assert.True(batch != "" || multi > 0, "the batch should contain words of several sub-words");
        Assert.Equal(2 * d, firstLast.Dimension);
    }

    [Fact]
    public void Words_are_selected_by_id_span_and_every_occurrence_of_a_text()
    {
        var m = ModelCache.Get("all-MiniLM-L6-v2");
        var text = GoldenTokens.Sentences()[1]; // "The bank will not lend money near the river bank."
        using var inputs = GoldenTokens.Inputs(m, "all-MiniLM-L6-v2", "");
        using var output = m.Encode(inputs);
        var sentence = output.Words().Mean()[1];

        var banks = sentence.Find(text, "bank");
        Assert.Equal(2, banks.Count);
        Assert.All(banks, w => Assert.Equal("bank", w.TextIn(text)));
        Assert.Equal(2, sentence.Occurrences(text, "bank").Count);
        Assert.NotEqual(banks[0].Vector, banks[1].Vector); // context differs

        var first = sentence.ByWordId(banks[0].WordId);
        Assert.Same(banks[0], first);
        var at = text.IndexOf("river bank", StringComparison.Ordinal);
        var span = sentence.InSpan(at, at + "river bank".Length);
        Assert.Equal(["river", "bank"], span.Select(w => w.TextIn(text)));
        Assert.Same(banks[1], span[1]);
        Assert.Empty(sentence.Find(text, "zebra"));
        Assert.Throws<ArgumentOutOfRangeException>(() => sentence.ByWordId(999));

        var asEmbeddings = sentence.ToEmbeddings();
        Assert.Equal(sentence.Count, asEmbeddings.Count);
        Assert.Equal(banks[1].Vector, asEmbeddings.RowArray(banks[1].Index));
    }

    [Fact]
    public void First_last_and_layer_choice_apply_to_words()
    {
        var m = ModelCache.Get("bert-tiny-uncased");
        using var inputs = GoldenTokens.Inputs(m, "bert-tiny-uncased", "");
        using var output = m.Encode(inputs, new CaptureOptions { Kinds = ActivationKind.HiddenStates, Layers = [0] });
        var first = output.Words(1).First();
        var last = output.Words(1).Last();
        using var h = output.HiddenState(1).contiguous();
        var hidden = h.data<float>().ToArray();
        var (s, d) = (output.SequenceLength, m.HiddenSize);
        for (var b = 0; b < first.Count; b++)
            for (var w = 0; w < first[b].Count; w++)
            {
                var idx = first[b][w].TokenIndices;
                Assert.Equal(hidden.AsSpan((b * s + idx[0]) * d, d).ToArray(), first[b][w].Vector);
                Assert.Equal(hidden.AsSpan((b * s + idx[^1]) * d, d).ToArray(), last[b][w].Vector);
            }

        using var idsOnly = GoldenTokens.IdInputs(m, ModelCache.Golden("bert-tiny-uncased"), "");
        using var plain = m.Encode(idsOnly);
        Assert.Throws<NotCapturedException>(() => plain.Words().Mean());
    }
}

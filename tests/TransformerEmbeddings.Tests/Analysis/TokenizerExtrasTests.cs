using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Analysis;

/// <summary>What the seed explorations need from the tokenizer: encoding without special tokens, the vocabulary, decoding as transformers does.</summary>
public sealed class TokenizerExtrasTests
{
    public static TheoryData<string> Models() => new(SharedData.ModelNames);

    [Theory]
    [MemberData(nameof(Models))]
    public void Encoding_without_special_tokens_is_the_encoding_with_them_less_the_specials(string name)
    {
        var t = ModelCache.Get(name).Tokenizer;
        foreach (var text in GoldenInputs.For(ModelCache.Get(name)).Sentences)
        {
            var with = t.Encode(text);
            var without = t.Encode(text, addSpecialTokens: false);
            var keep = Enumerable.Range(0, with.Count).Where(i => with.SpecialTokensMask[i] == 0).ToList();
            Assert.Equal(keep.Select(i => with.Ids[i]), without.Ids);
            Assert.Equal(keep.Select(i => with.Offsets[i]), without.Offsets);
            Assert.Equal(keep.Select(i => with.WordIds[i]), without.WordIds);
            Assert.All(without.SpecialTokensMask, m => Assert.Equal(0, m));
            Assert.All(without.TypeIds, m => Assert.Equal(0, m));
        }
        var limited = t.Encode("one two three four five six", maxLength: 3, addSpecialTokens: false);
        Assert.Equal(3, limited.Count);                                            // the whole limit goes to the text
        Assert.True(limited.Truncated);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void The_vocabulary_lists_every_id_once_and_agrees_with_the_lookups(string name)
    {
        var t = ModelCache.Get(name).Tokenizer;
        var vocabulary = t.GetVocabulary();
        Assert.Equal(t.VocabSize, vocabulary.Count);
        Assert.Equal(vocabulary.Count, vocabulary.Values.Distinct().Count());
        foreach (var (token, id) in vocabulary.Take(2000))
        {
            Assert.Equal(id, t.TokenToId(token));
            Assert.Equal(token, t.IdToToken(id));
        }
        Assert.Equal(t.PadTokenId, vocabulary[t.PadToken]);
    }

    [Fact]
    public void Decode_cleans_up_spaces_as_transformers_does_when_asked_and_byte_level_bpe_gives_the_text_back()
    {
        var bert = ModelCache.Get("bert-tiny-cased-sharded").Tokenizer;          // the WordPiece decoder cleans up per token
        var ids = bert.Encode("I can't go , she said .").Ids;
        Assert.Equal("I can ' t go, she said.", bert.Decode(ids));
        Assert.Equal("I can't go, she said.", bert.Decode(ids, cleanUpTokenizationSpaces: true));
        Assert.True(bert.CleanUpTokenizationSpaces);                              // its tokenizer_config.json says so

        var roberta = ModelCache.Get("roberta-tiny").Tokenizer;
        const string text = "Byte-level BPE: Üñïcödé, émojis 🚀 and  two spaces.";
        Assert.Equal(text, roberta.Decode(roberta.Encode(text).Ids));
        Assert.Equal("<s>" + text + "</s>", roberta.Decode(roberta.Encode(text).Ids, skipSpecialTokens: false));
        Assert.False(roberta.CleanUpTokenizationSpaces);
    }
}

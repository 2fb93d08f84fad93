using System.Text.Json.Nodes;
using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Tokenization;
using Xunit;

namespace TransformerEmbeddings.Tests.Tokenization;

/// <summary>
/// The Unigram pipeline's components one by one, on small inputs whose answer follows from HF's rules (the corpora
/// in <see cref="UnigramParityTests"/> check the same code against HF itself).
/// </summary>
public sealed class UnigramComponentTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("te-unigram-unit-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    private static List<NChar> Chars(string s) => NormalizedText.FromText(s, 0, s.Length);

    private static string Text(List<NChar> chars) => NormalizedText.ToText(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(chars));

    private static List<ModelToken> Tokenize(UnigramModel model, string word)
    {
        var output = new List<ModelToken>();
        model.Tokenize(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(Chars(word)), output);
        return output;
    }

    // ---------------------------------------------------------------- Unigram model

    [Fact]
    public void Viterbi_picks_the_best_scoring_split_and_fuses_unknown_chars()
    {
        // The example of HF's Unigram::encode documentation.
        var model = new UnigramModel([("<unk>", 0), ("a", 0), ("b", 0), ("c", 0), ("d", 0), ("cd", 1), ("ab", 2), ("abc", 5), ("abcd", 10)], 0, false, "test");
        var tokens = Tokenize(model, "abcdacdxx");
        Assert.Equal(["abcd", "a", "cd", "xx"], tokens.Select(t => t.Value));
        Assert.Equal([8, 1, 5, 0], tokens.Select(t => t.Id));
        Assert.Equal([(0, 4), (4, 5), (5, 7), (7, 9)], tokens.Select(t => (t.Start, t.End)));
    }

    [Fact]
    public void Viterbi_keeps_the_first_path_on_equal_scores()
    {
        // "ab" (-2) is found before "a" + "b" (-1 + -1) completes; a later path must score strictly higher to win.
        var model = new UnigramModel([("<unk>", 0), ("a", -1), ("b", -1), ("ab", -2)], 0, false, "test");
        Assert.Equal(["ab"], Tokenize(model, "ab").Select(t => t.Value));
        var cheaper = new UnigramModel([("<unk>", 0), ("a", -1), ("b", -1), ("ab", -2.5)], 0, false, "test");
        Assert.Equal(["a", "b"], Tokenize(cheaper, "ab").Select(t => t.Value));
    }

    [Fact]
    public void Unknown_chars_score_ten_below_the_lowest_piece()
    {
        // "x" starts no one-char piece, so it also gets an unknown node scored min_score - 10 = -1 - 10 = -11.
        // unk(x) + "y" = -11 + y against "xy" = -1: the unknown path wins exactly when y > 10.
        var below = new UnigramModel([("<unk>", 0), ("xy", -1), ("y", 9.5)], 0, false, "test");
        Assert.Equal(["xy"], Tokenize(below, "xy").Select(t => t.Value));
        var above = new UnigramModel([("<unk>", 0), ("xy", -1), ("y", 10.5)], 0, false, "test");
        var tokens = Tokenize(above, "xy");
        Assert.Equal(["x", "y"], tokens.Select(t => t.Value));
        Assert.Equal([0, 2], tokens.Select(t => t.Id));
    }

    [Fact]
    public void Byte_fallback_spells_unknown_text_as_utf8_byte_pieces()
    {
        var vocab = new List<(string, double)> { ("<unk>", 0), ("a", -1) };
        for (var b = 0; b < 256; b++) vocab.Add(($"<0x{b:X2}>", -5));
        var model = new UnigramModel(vocab, 0, true, "test");
        var tokens = Tokenize(model, "aé€");
        // "é€" is one fused unknown span: its 5 UTF-8 bytes, each token covering the whole span.
        Assert.Equal(["a", "<0xC3>", "<0xA9>", "<0xE2>", "<0x82>", "<0xAC>"], tokens.Select(t => t.Value));
        Assert.All(tokens.Skip(1), t => Assert.Equal((1, 3), (t.Start, t.End)));
        Assert.Equal(vocab.FindIndex(v => v.Item1 == "<0xC3>"), tokens[1].Id);

        // Without the byte pieces the span stays one unknown token carrying its text.
        var noBytes = new UnigramModel([("<unk>", 0), ("a", -1), ("<0xC3>", -5)], 0, true, "test");
        var unk = Tokenize(noBytes, "aé");
        Assert.Equal(["a", "é"], unk.Select(t => t.Value));
        Assert.Equal(0, unk[1].Id);
    }

    [Fact]
    public void A_model_without_unk_id_fails_on_an_unknown_char_and_bad_unk_ids_are_refused()
    {
        var model = new UnigramModel([("a", -1)], null, false, "test");
        Assert.Equal(["a"], Tokenize(model, "a").Select(t => t.Value));
        var e = Assert.Throws<TokenizerException>(() => Tokenize(model, "ab"));
        Assert.Contains("U+0062", e.Message);
        Assert.Throws<TokenizerException>(() => new UnigramModel([("a", -1)], 5, false, "test"));
        Assert.Throws<TokenizerException>(() => new UnigramModel([], 0, false, "test"));
    }

    // ---------------------------------------------------------------- Metaspace

    private static (string[] Words, List<NChar> Chars) Split(IPreTokenizer p, List<NChar> chars)
    {
        var words = new List<WordRange>();
        var result = p.Split(chars, words);
        return (words.Select(w => Text(result.GetRange(w.Start, w.End - w.Start))).ToArray(), result);
    }

    [Fact]
    public void Metaspace_prepend_schemes_and_split()
    {
        Assert.Equal(["▁Hey", "▁friend"], Split(new MetaspacePreTokenizer(0x2581, PrependScheme.Always, true), Chars("Hey friend")).Words);
        Assert.Equal(["Hey", "▁friend"], Split(new MetaspacePreTokenizer(0x2581, PrependScheme.Never, true), Chars("Hey friend")).Words);
        Assert.Equal(["▁Hey▁friend"], Split(new MetaspacePreTokenizer(0x2581, PrependScheme.Always, false), Chars("Hey friend")).Words);
        // Already starting with ▁: nothing is prepended. Consecutive spaces give lone ▁ words (MergedWithNext).
        Assert.Equal(["▁a", "▁", "▁b"], Split(new MetaspacePreTokenizer(0x2581, PrependScheme.Always, true), Chars(" a  b")).Words);

        // "first": only a piece that starts at offset 0 of the original text gets the prefix.
        var first = new MetaspacePreTokenizer(0x2581, PrependScheme.First, true);
        Assert.Equal(["▁Hey"], Split(first, Chars("Hey")).Words);
        var later = NormalizedText.FromText("<s>Hey", 3, 6);
        Assert.Equal(["Hey"], Split(first, later).Words);
    }

    [Fact]
    public void Metaspace_prefix_aligns_with_the_first_char()
    {
        var (_, chars) = Split(new MetaspacePreTokenizer(0x2581, PrependScheme.Always, true), Chars("ab c"));
        Assert.Equal((0x2581, 0, 1), (chars[0].Cp, chars[0].Start, chars[0].End));
        Assert.Equal(('a', 0, 1), (chars[1].Cp, chars[1].Start, chars[1].End));
        Assert.Equal((0x2581, 2, 3), (chars[3].Cp, chars[3].Start, chars[3].End)); // the space itself
    }

    [Fact]
    public void WhitespaceSplit_then_Metaspace_prefixes_every_word()
    {
        var sequence = new SequencePreTokenizer([new WhitespaceSplitPreTokenizer(), new MetaspacePreTokenizer(0x2581, PrependScheme.Always, true)]);
        var (words, chars) = Split(sequence, Chars(" ab\tc  d "));
        Assert.Equal(["▁ab", "▁c", "▁d"], words);
        Assert.Equal((1, 2), (chars[0].Start, chars[0].End));
        Assert.Equal(["ab", "c", "d"], Split(new WhitespaceSplitPreTokenizer(), Chars(" ab\tc  d ")).Words);
    }

    // ---------------------------------------------------------------- normalizers

    private static PrecompiledNormalizer XlmrCharsMap()
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(UnigramFixtures.Folder("xlmr-unigram"), "tokenizer.json")))!;
        var base64 = json["normalizer"]!["normalizers"]![0]!["precompiled_charsmap"]!.GetValue<string>();
        return new PrecompiledNormalizer(PrecompiledCharsMap.Parse(Convert.FromBase64String(base64), "test"));
    }

    [Fact]
    public void Precompiled_maps_through_the_charsmap_and_keeps_alignments()
    {
        var n = XlmrCharsMap();
        var plain = Chars("plain text");
        Assert.Same(plain, n.Normalize(plain, 0));

        var wide = n.Normalize(Chars("ＡＢＣ"), 0);
        Assert.Equal("ABC", Text(wide));
        Assert.Equal([(0, 1), (1, 2), (2, 3)], wide.Select(c => (c.Start, c.End)));

        // An expansion: both chars of "TM" align to the trade mark sign.
        var tm = n.Normalize(Chars("™x"), 0);
        Assert.Equal("TMx", Text(tm));
        Assert.Equal([(0, 1), (0, 1), (1, 2)], tm.Select(c => (c.Start, c.End)));

        // CR LF is one grapheme cluster and maps (through its CR) to one space; the zero-width space becomes a space.
        Assert.Equal("a b", Text(n.Normalize(Chars("a\r\nb"), 0)));
        Assert.Equal("x y", Text(n.Normalize(Chars("x\u200By"), 0)));
    }

    [Fact]
    public void Precompiled_looks_up_short_clusters_whole_with_the_shortest_matching_key()
    {
        var n = XlmrCharsMap();
        // e + combining acute (3 bytes) is a key of its own: one char replacing the first (so aligned to "e" only).
        var composed = n.Normalize(Chars("e\u0301"), 0);
        Assert.Equal("é", Text(composed));
        Assert.Equal((0, 1), (composed[0].Start, composed[0].End));
        // Fullwidth A + combining acute (5 bytes): the shortest key prefixing the cluster is the fullwidth A alone,
        // so the whole cluster becomes "A" (SentencePiece's rule, kept by HF).
        Assert.Equal("Ab", Text(n.Normalize(Chars("Ａ\u0301b"), 0)));
        // Clusters of 6 bytes or more are looked up char by char: the mark survives.
        Assert.Equal("A\u0301\u0301b", Text(n.Normalize(Chars("Ａ\u0301\u0301b"), 0)));
    }

    [Fact]
    public void Grapheme_clusters_follow_UAX29()
    {
        static int[] Ends(string s)
        {
            var chars = Chars(s);
            var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(chars);
            var ends = new List<int>();
            for (var i = 0; i < span.Length; i = UnicodeGraphemes.ClusterEnd(span, i)) ends.Add(UnicodeGraphemes.ClusterEnd(span, i));
            return ends.ToArray();
        }

        Assert.Equal([2, 3], Ends("\r\na"));                        // GB3
        Assert.Equal([1, 2], Ends("\n\u0301"));                    // GB4
        Assert.Equal([3], Ends("e\u0301\u0323"));                 // GB9
        Assert.Equal([3], Ends("\u1100\u1161\u11A8"));             // GB6, GB7
        Assert.Equal([3], Ends("\u0915\u094D\u0937"));             // GB9c (क्ष)
        Assert.Equal([5], Ends("👨\u200D👩\u200D👧"));              // GB11, code points
        Assert.Equal([2, 4, 5], Ends("🇫🇷🇩🇪🇮"));                  // GB12, GB13
        Assert.Equal([2], Ends("\u0600a"));                        // GB9b (prepend)
        Assert.Equal([1, 2], Ends("ab"));
    }

    [Fact]
    public void Replace_aligns_new_chars_with_the_last_char_of_the_match()
    {
        var regex = new ReplaceNormalizer(ReplacePattern.FromRegex(" {2,}", "test"), "▁");
        var r = regex.Normalize(Chars("a   b"), 0);
        Assert.Equal("a▁b", Text(r));
        Assert.Equal((3, 4), (r[1].Start, r[1].End));

        var expand = new ReplaceNormalizer(ReplacePattern.Literal("o"), "<>");
        var e = expand.Normalize(Chars("foo"), 0);
        Assert.Equal("f<><>", Text(e));
        Assert.Equal([(0, 1), (1, 2), (1, 2), (2, 3), (2, 3)], e.Select(c => (c.Start, c.End)));

        var remove = new ReplaceNormalizer(ReplacePattern.Literal("l"), "");
        Assert.Equal("heo", Text(remove.Normalize(Chars("hello"), 0)));
        Assert.Throws<TokenizerException>(() => ReplacePattern.FromRegex("(unclosed", "test"));
    }

    [Fact]
    public void Strip_removes_whitespace_and_keeps_alignments()
    {
        var both = new StripNormalizer(true, true).Normalize(Chars("\u3000 ab \n"), 0);
        Assert.Equal("ab", Text(both));
        Assert.Equal([(2, 3), (3, 4)], both.Select(c => (c.Start, c.End)));
        Assert.Equal("ab \n", Text(new StripNormalizer(true, false).Normalize(Chars("  ab \n"), 0)));
        Assert.Equal("  ab", Text(new StripNormalizer(false, true).Normalize(Chars("  ab \n"), 0)));
    }

    [Fact]
    public void Nfkc_and_nfc_compose_and_align_like_unicode_normalization_alignments()
    {
        var nfkc = new UnicodeNormalizer(compatibility: true, compose: true);
        var lig = nfkc.Normalize(Chars("ﬁx"), 0);
        Assert.Equal("fix", Text(lig));
        Assert.Equal([(0, 1), (0, 1), (1, 2)], lig.Select(c => (c.Start, c.End)));

        var nfc = new UnicodeNormalizer(compatibility: false, compose: true);
        var composed = nfc.Normalize(Chars("e\u0301\u0323x"), 0);
        Assert.Equal("\u1EB9\u0301x", Text(composed)); // ẹ́: e + dot below composes first (canonical order), then the acute stays
        Assert.Equal("ﬁ", Text(nfc.Normalize(Chars("ﬁ"), 0)));
        Assert.Equal("\uAC01", Text(nfc.Normalize(Chars("\u1100\u1161\u11A8"), 0))); // Hangul LV + T
        var nfkd = new UnicodeNormalizer(compatibility: true, compose: false);
        Assert.Equal("1", Text(nfkd.Normalize(Chars("①"), 0)));
    }

    // ---------------------------------------------------------------- decoders

    [Fact]
    public void Decoders_follow_HF()
    {
        Assert.Equal("Hey friend", string.Concat(new MetaspaceDecoder(0x2581, PrependScheme.Always).DecodeChain(["▁Hey", "▁friend"])));
        Assert.Equal(" Hey friend", string.Concat(new MetaspaceDecoder(0x2581, PrependScheme.Never).DecodeChain(["▁Hey", "▁friend"])));
        Assert.Equal(["é", "a", "\uFFFD", "\uFFFD"], new ByteFallbackDecoder().DecodeChain(["<0xC3>", "<0xA9>", "a", "<0xC3>", "<0x28>"]));
        Assert.Equal(["ab"], new FuseDecoder().DecodeChain(["a", "b"]));
        Assert.Equal(["a", "b "], new StripDecoder(' ', 1, 0).DecodeChain([" a", " b "]));
        // cleanup runs on each token after its space is added, so " n't"-style rules apply only within one token.
        Assert.Equal("hello world, isn ' t it?", string.Concat(new WordPieceDecoder("##", true).DecodeChain(["hello", "world", ",", "isn", "'", "t", "it", "?"])));
        Assert.Equal("a b", string.Concat(new ReplaceDecoder(ReplacePattern.Literal("▁"), " ").DecodeChain(["a▁b"])));
        Assert.Equal(" héllo", string.Concat(new ByteLevelDecoder().DecodeChain(["Ġh", "Ã©", "llo"])));
    }

    [Fact]
    public void Decode_skips_special_tokens_on_request()
    {
        var t = UnigramFixtures.Get("xlmr-unigram");
        var e = t.Encode("Hello <mask> world");
        Assert.Equal("Hello world", t.Decode(e.Ids));
        Assert.Equal("<s> Hello<mask> world</s>", t.Decode(e.Ids, skipSpecialTokens: false));
        Assert.Equal("", t.Decode([]));
        Assert.Equal("Hello", t.Decode([.. t.Encode("Hello").Ids, 999_999]));
    }

    // ---------------------------------------------------------------- the folder and its errors

    [Fact]
    public void Xlmr_folder_properties()
    {
        var t = UnigramFixtures.Get("xlmr-unigram");
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(UnigramFixtures.Folder("xlmr-unigram"), "tokenizer.json")))!;
        var vocab = json["model"]!["vocab"]!.AsArray();
        Assert.Equal(TokenizerKind.Unigram, t.Kind);
        Assert.Equal(512, t.MaxLength);
        Assert.Equal("<pad>", t.PadToken);
        Assert.Equal(1, t.PadTokenId);
        Assert.Equal("<mask>", t.MaskToken);
        Assert.Equal(vocab.Count - 1, t.MaskTokenId);
        Assert.Equal(vocab.Count, t.VocabSize);
        Assert.Equal(3, t.TokenToId("<unk>"));
        Assert.Equal(vocab[10]![0]!.GetValue<string>(), t.IdToToken(10));
        var e = t.Encode("Hello", "world");
        Assert.Equal(0, e.Ids[0]);
        Assert.Equal(2, e.Ids[^1]);
        Assert.Equal(4, e.SequenceIds.Count(s => s == null)); // <s> A </s> </s> B </s>
        Assert.All(e.TypeIds, id => Assert.Equal(0, id));
    }

    private void WriteTokenizerJson(Action<JsonNode> patch)
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(UnigramFixtures.Folder("xlmr-unigram"), "tokenizer.json")))!;
        patch(json);
        File.WriteAllText(Path.Combine(temp, "tokenizer.json"), json.ToJsonString());
    }

    [Theory]
    [InlineData("normalizer", "{\"type\":\"Nmt\"}", "Nmt")]
    [InlineData("pre_tokenizer", "{\"type\":\"Punctuation\",\"behavior\":\"Isolated\"}", "Punctuation")]
    [InlineData("decoder", "{\"type\":\"CTC\"}", "CTC")]
    [InlineData("model", "{\"type\":\"WordLevel\",\"vocab\":{},\"unk_token\":\"<unk>\"}", "WordLevel")]
    [InlineData("normalizer", "{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"not base64!\"}", "base64")]
    [InlineData("normalizer", "{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"AAAAAA==\"}", "trie size")]
    [InlineData("pre_tokenizer", "{\"type\":\"Metaspace\",\"replacement\":\"▁\",\"prepend_scheme\":\"sometimes\"}", "sometimes")]
    [InlineData("pre_tokenizer", "{\"type\":\"Metaspace\",\"replacement\":\"▁\",\"add_prefix_space\":false,\"prepend_scheme\":\"always\"}", "add_prefix_space")]
    [InlineData("model", "{\"type\":\"Unigram\",\"unk_id\":99,\"vocab\":[[\"a\",-1.0]]}", "unk_id 99")]
    [InlineData("model", "{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"a\"]]}", "[piece, score]")]
    public void Unsupported_or_bad_components_raise_TokenizerException_naming_them(string field, string value, string named)
    {
        WriteTokenizerJson(json => json[field] = JsonNode.Parse(value));
        var e = Assert.Throws<TokenizerException>(() => TransformerTokenizer.Load(temp));
        Assert.Contains(named, e.Message);
        Assert.Contains("tokenizer.json", e.Message);
    }

    [Fact]
    public void A_sentencepiece_model_without_tokenizer_json_is_explained()
    {
        File.Copy(Path.Combine(UnigramFixtures.Folder("xlmr-unigram"), "sentencepiece.bpe.model"), Path.Combine(temp, "sentencepiece.bpe.model"));
        var e = Assert.Throws<TokenizerException>(() => TransformerTokenizer.Load(temp));
        Assert.Contains("sentencepiece.bpe.model", e.Message);
        Assert.Contains("save_pretrained", e.Message);
    }

    [Fact]
    public void Encode_never_throws_and_offsets_are_consistent()
    {
        foreach (var folder in UnigramFixtures.Folders)
        {
            var t = UnigramFixtures.Get(folder);
            foreach (var text in new[] { "", " ", "\u0301", "<s></s><mask>", "\r\n\r\n", "a\u0000b", "\uD800x", "🇫🇷🇩", "ｶﾞｷﾞ ㍿ ㈱" })
            {
                TokenizerPropertyTests.CheckInvariants(t.Encode(text), text, null);
                TokenizerPropertyTests.CheckInvariants(t.Encode(text, text), text, text);
            }
        }
    }
}

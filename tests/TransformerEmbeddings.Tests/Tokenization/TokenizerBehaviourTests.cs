using CsCheck;
using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Tokenization;
using Xunit;

namespace TransformerEmbeddings.Tests.Tokenization;

public sealed class TokenizerPropertyTests
{
    /// <summary>Random text over ASCII, controls, combining marks, lone surrogates, astral chars, CJK, spaces and special tokens.</summary>
    private static readonly Gen<string> Piece = Gen.OneOf(
        Gen.Int[0x20, 0x7E].Select(i => ((char)i).ToString()),
        Gen.Int[0, 0x1F].Select(i => ((char)i).ToString()),
        Gen.Int[0x300, 0x36F].Select(i => ((char)i).ToString()),
        Gen.Int[0xD800, 0xDFFF].Select(i => ((char)i).ToString()),
        Gen.Int[0x10000, 0x10FFFF].Select(char.ConvertFromUtf32),
        Gen.Int[0x80, 0xD7FF].Select(i => ((char)i).ToString()),
        Gen.Int[0xE000, 0xFFFF].Select(i => ((char)i).ToString()),
        Gen.Int[0x4E00, 0x9FFF].Select(i => ((char)i).ToString()),
        Gen.OneOf<string>(" ", "  ", "\t", "\n", "\r\n", "\u3000", "\u00A0", "\u200B", "\u00AD", "[MASK]", "<mask>", " <mask>",
            "[CLS]", "</s>", "İ", "ﬁ", "'s", "'ll", "e\u0301", "a\u0301\u0323", "한", "🚀", "\uFFFD", "\0"));

    private static readonly Gen<string> Text = Piece.Array[0, 40].Select(string.Concat);

    public static TheoryData<string> Models => new(SharedData.ModelNames);

    [Theory]
    [MemberData(nameof(Models))]
    public void Encode_never_throws_and_offsets_are_consistent(string model)
    {
        var tokenizer = Tokenizers.Get(model);
        Text.Sample(text => CheckInvariants(tokenizer.Encode(text), text, null), iter: 400);
        Gen.Select(Text, Text).Sample((a, b) => CheckInvariants(tokenizer.Encode(a, b), a, b), iter: 200);
        Gen.Select(Text, Text, Gen.Int[4, 20]).Sample((a, b, max) =>
        {
            var e = tokenizer.Encode(a, b, max);
            Assert.True(e.Count <= max);
            CheckInvariants(e, a, b);
        }, iter: 200);
    }

    internal static void CheckInvariants(TokenizedText e, string text, string? pair)
    {
        Assert.Equal(e.Count, e.Tokens.Count);
        Assert.Equal(e.Count, e.Offsets.Count);
        Assert.Equal(e.Count, e.WordIds.Count);
        Assert.Equal(e.Count, e.SequenceIds.Count);
        Assert.Equal(e.Count, e.TypeIds.Count);
        Assert.Equal(e.Count, e.SpecialTokensMask.Count);
        foreach (var seq in new[] { 0, 1 })
        {
            var source = seq == 0 ? text : pair;
            var lastStart = 0;
            var lastEnd = 0;
            var seenWords = new HashSet<int>();
            int? currentWord = null;
            for (var i = 0; i < e.Count; i++)
            {
                if (e.SequenceIds[i] != seq) continue;
                Assert.NotNull(source);
                var o = e.Offsets[i];
                Assert.InRange(o.Start, 0, source!.Length);
                Assert.InRange(o.End, o.Start, source.Length);
                Assert.True(o.Start >= lastStart && o.End >= lastEnd, $"offsets go back at token {i}: {o} after ({lastStart},{lastEnd})");
                lastStart = o.Start;
                lastEnd = o.End;
                var w = e.WordIds[i];
                Assert.NotNull(w);
                if (w != currentWord)
                {
                    Assert.True(seenWords.Add(w!.Value), $"word {w} is not contiguous");
                    currentWord = w;
                }

                Assert.Equal(0, e.SpecialTokensMask[i]);
            }
        }

        for (var i = 0; i < e.Count; i++)
        {
            if (e.SequenceIds[i] != null) continue;
            Assert.Equal(1, e.SpecialTokensMask[i]);
            Assert.Null(e.WordIds[i]);
            Assert.Equal(default, e.Offsets[i]);
        }
    }
}

public sealed class TokenizerBehaviourTests
{
    public static TheoryData<string> Models => new(SharedData.ModelNames);

    [Theory]
    [MemberData(nameof(Models))]
    public void Empty_whitespace_and_lone_special_token_are_valid(string model)
    {
        var t = Tokenizers.Get(model);
        var empty = t.Encode("");
        Assert.Equal(2, empty.Count);
        Assert.All(empty.SpecialTokensMask, m => Assert.Equal(1, m));
        var blank = t.Encode(" \t\n ");
        // WordPiece drops whitespace; byte-level BPE keeps it as tokens (Ġ, ĉ, Ċ).
        if (t.Kind == TokenizerKind.WordPiece) Assert.Equal(2, blank.Count);
        else Assert.True(blank.Count > 2);
        var mask = t.Encode(t.MaskToken!);
        Assert.Equal(3, mask.Count);
        Assert.Equal(t.MaskTokenId, mask.Ids[1]);
        Assert.Equal(new TokenOffset(0, t.MaskToken!.Length), mask.Offsets[1]);
        Assert.False(mask.Truncated);
        var pair = t.Encode("", "");
        Assert.Equal(t.Kind == TokenizerKind.WordPiece ? 3 : 4, pair.Count);
    }

    [Fact]
    public void Folder_properties_follow_the_configs()
    {
        var bert = Tokenizers.Get("bert-tiny-uncased");
        Assert.Equal(TokenizerKind.WordPiece, bert.Kind);
        Assert.Equal(512, bert.MaxLength);
        Assert.Equal(0, bert.PadTokenId);
        Assert.Equal("[PAD]", bert.PadToken);
        Assert.Equal("[MASK]", bert.MaskToken);
        Assert.Equal(103, bert.MaskTokenId);
        Assert.Equal(30522, bert.VocabSize);
        Assert.Equal(2023, bert.TokenToId("this"));
        Assert.Equal("this", bert.IdToToken(2023));
        Assert.Null(bert.TokenToId("no-such-token"));
        Assert.Null(bert.IdToToken(-1));

        var cased = Tokenizers.Get("bert-tiny-cased-sharded");
        Assert.Equal(28996, cased.VocabSize);
        Assert.Equal("[MASK]", cased.MaskToken);

        var roberta = Tokenizers.Get("roberta-tiny");
        Assert.Equal(TokenizerKind.ByteLevelBpe, roberta.Kind);
        Assert.Equal(512, roberta.MaxLength);
        Assert.Equal(1, roberta.PadTokenId);
        Assert.Equal("<pad>", roberta.PadToken);
        Assert.Equal("<mask>", roberta.MaskToken);
        Assert.Equal(50264, roberta.MaskTokenId);
        Assert.Equal(50265, roberta.VocabSize);

        // all-MiniLM-L6-v2's tokenizer.json truncation block (128) is ignored unless asked for.
        Assert.Equal(512, Tokenizers.Get("all-MiniLM-L6-v2").MaxLength);
        var applied = TransformerTokenizer.Load(SharedData.Model("all-MiniLM-L6-v2"), new TokenizerOptions { ApplyTokenizerJsonTruncation = true });
        Assert.Equal(128, applied.MaxLength);
        var explicitLimit = TransformerTokenizer.Load(SharedData.Model("all-MiniLM-L6-v2"), new TokenizerOptions { MaxLength = 64 });
        Assert.Equal(64, explicitLimit.MaxLength);
        Assert.Equal(64, explicitLimit.Encode(string.Join(' ', Enumerable.Repeat("word", 200))).Count);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Truncation_is_reported(string model)
    {
        var t = Tokenizers.Get(model);
        var text = string.Join(' ', Enumerable.Range(0, 300).Select(i => "word" + i));
        var full = t.Encode(text, 100_000);
        Assert.False(full.Truncated);
        Assert.Equal(0, full.TruncatedTokenCount);

        var cut = t.Encode(text, 16);
        Assert.True(cut.Truncated);
        Assert.Equal(16, cut.Count);
        Assert.Equal(full.Count - 16, cut.TruncatedTokenCount);
        Assert.Equal(full.Ids.Take(15), cut.Ids.Take(15));

        var defaultLimit = t.Encode(text + " " + text + " " + text);
        Assert.Equal(t.MaxLength, defaultLimit.Count);
        Assert.True(defaultLimit.Truncated);

        var pairFull = t.Encode(text, text, 100_000);
        var pairCut = t.Encode(text, text, 20);
        Assert.Equal(20, pairCut.Count);
        Assert.Equal(pairFull.Count - 20, pairCut.TruncatedTokenCount);

        var shortOne = t.Encode("short", 20);
        Assert.False(shortOne.Truncated);
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Encode("text", 1));
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Parallel_batches_equal_sequential_encodes(string model)
    {
        var t = Tokenizers.Get(model);
        var texts = Enumerable.Range(0, 400).Select(i => $"Sentence {i}: naïve café №{i} 🚀 über-{i * 7} <mask> [MASK]").ToArray();
        var batch = t.EncodeBatch(texts);
        var pairs = texts.Select((s, i) => (s, texts[(i + 1) % texts.Length])).ToArray();
        var pairBatch = t.EncodeBatch(pairs, 24);
        var concurrent = new TokenizedText[texts.Length];
        Parallel.For(0, texts.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => concurrent[i] = t.Encode(texts[i]));
        for (var i = 0; i < texts.Length; i++)
        {
            var sequential = t.Encode(texts[i]);
            Assert.Equal(sequential.Ids, batch[i].Ids);
            Assert.Equal(sequential.Offsets, batch[i].Offsets);
            Assert.Equal(sequential.Ids, concurrent[i].Ids);
            var seqPair = t.Encode(pairs[i].Item1, pairs[i].Item2, 24);
            Assert.Equal(seqPair.Ids, pairBatch[i].Ids);
            Assert.Equal(seqPair.TypeIds, pairBatch[i].TypeIds);
        }
    }

    [Fact]
    public void Slow_tokenizer_files_match_tokenizer_json()
    {
        // roberta-tiny without tokenizer.json: vocab.json + merges.txt + tokenizer_config.json + special_tokens_map.json.
        var dir = Directory.CreateTempSubdirectory("te-tok-");
        try
        {
            foreach (var f in new[] { "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json", "config.json" })
                File.Copy(Path.Combine(SharedData.Model("roberta-tiny"), f), Path.Combine(dir.FullName, f));
            var slow = TransformerTokenizer.Load(dir.FullName);
            var cases = TokenizerParityTests.RunCorpus("roberta-base", slow);
            var (agree, total, report) = ParityReport.Compare("roberta-base via vocab.json+merges.txt", cases);
            Assert.True(agree.Values.All(v => v == total), report);
            Assert.Equal(512, slow.MaxLength);
            Assert.Equal(50264, slow.MaskTokenId);
        }
        finally
        {
            dir.Delete(true);
        }

        // bert-tiny-uncased without tokenizer.json: vocab.txt + tokenizer_config.json (do_lower_case true).
        dir = Directory.CreateTempSubdirectory("te-tok-");
        try
        {
            foreach (var f in new[] { "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "config.json" })
                File.Copy(Path.Combine(SharedData.Model("bert-tiny-uncased"), f), Path.Combine(dir.FullName, f));
            var slow = TransformerTokenizer.Load(dir.FullName);
            var cases = TokenizerParityTests.RunCorpus("bert-base-uncased", slow);
            var (agree, total, report) = ParityReport.Compare("bert-base-uncased via vocab.txt", cases);
            Assert.True(agree.Values.All(v => v == total), report);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void Unsupported_or_missing_files_raise_TokenizerException()
    {
        var dir = Directory.CreateTempSubdirectory("te-tok-");
        try
        {
            var empty = Assert.Throws<TokenizerException>(() => TransformerTokenizer.Load(dir.FullName));
            Assert.Contains("tokenizer.json", empty.Message);

            var json = File.ReadAllText(Path.Combine(SharedData.Model("bert-tiny-uncased"), "tokenizer.json"));
            var patched = json.Replace("\"type\": \"BertNormalizer\"", "\"type\": \"Nmt\"").Replace("\"type\":\"BertNormalizer\"", "\"type\":\"Nmt\"");
            Assert.NotEqual(json, patched);
            File.WriteAllText(Path.Combine(dir.FullName, "tokenizer.json"), patched);
            var e = Assert.Throws<TokenizerException>(() => TransformerTokenizer.Load(dir.FullName));
            Assert.Contains("Nmt", e.Message);
            Assert.Contains("normalizer", e.Message);
            Assert.Contains("tokenizer.json", e.Message);
            Assert.IsAssignableFrom<TransformerEmbeddingsException>(e);

            File.WriteAllText(Path.Combine(dir.FullName, "tokenizer.json"), "{ not json");
            Assert.Throws<TokenizerException>(() => TransformerTokenizer.Load(dir.FullName));
        }
        finally
        {
            dir.Delete(true);
        }

        Assert.Throws<TokenizerException>(() => TransformerTokenizer.Load("/no/such/folder"));
    }

    [Fact]
    public void Offsets_track_normalization_back_to_the_original_text()
    {
        var t = Tokenizers.Get("bert-tiny-uncased");
        // Accents stripped, ligature kept, CJK split, astral char as [UNK], soft hyphen and ZWSP removed.
        const string text = "Ünïcödé ﬁne 北京 a\u00ADb c\u200Bd 🚀x";
        var e = t.Encode(text);
        foreach (var (token, o, i) in e.Tokens.Select((tok, i) => (tok, e.Offsets[i], i)))
        {
            if (e.SpecialTokensMask[i] == 1) continue;
            var span = text[o.Start..o.End];
            Assert.False(string.IsNullOrEmpty(span));
            _ = token;
        }

        Assert.Contains("unicode", string.Concat(e.Tokens.Skip(1).Take(3)).Replace("##", ""));
        var bei = e.Tokens.ToList().IndexOf("北");
        Assert.Equal("北", text[e.Offsets[bei].Start..e.Offsets[bei].End]);
        var rocket = e.Tokens.ToList().LastIndexOf("[UNK]");
        Assert.Equal("🚀x", text[e.Offsets[rocket].Start..e.Offsets[rocket].End]);

        var r = Tokenizers.Get("roberta-tiny");
        var re = r.Encode("a 🚀");
        // The emoji's four bytes split into several tokens, all pointing at the whole surrogate pair.
        Assert.All(re.Offsets.Skip(2).Take(re.Count - 3), o => Assert.Equal(new TokenOffset(2, 4), o));
    }
}

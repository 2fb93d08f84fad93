using System.Text;
using CsCheck;
using TransformerEmbeddings.Pipelines;
using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Tests.Tokenization;
using TransformerEmbeddings.Tokenization;
using Xunit;

namespace TransformerEmbeddings.Tests.Reliability;

/// <summary>
/// Texts from anywhere (issue 26): any .NET string — lone surrogates, NUL and control characters, 1 MB single lines,
/// 100k-character words, combining-mark floods, bidirectional controls, every plane, noncharacters — tokenizes with every
/// tokenizer family the library has (WordPiece from tokenizer.json and vocab.txt, byte-level BPE from tokenizer.json and
/// vocab.json + merges.txt, Unigram with and without byte fallback) and embeds end to end without an exception: offsets
/// always index the input and never split a surrogate pair, ids map back to tokens, long texts follow the documented
/// truncation. CsCheck properties with a fixed budget (set <c>CsCheck_Iter</c> to run longer; a failure prints its seed).
/// </summary>
public sealed class UntrustedTextTests
{
    /// <summary>The CI budget, unless <c>CsCheck_Iter</c> asks for more.</summary>
    private static long Iter(long ci) => Environment.GetEnvironmentVariable("CsCheck_Iter") is { Length: > 0 } v ? long.Parse(v) : ci;

    private static readonly int[] Marks = [.. Enumerable.Range(0x300, 0x70), .. Enumerable.Range(0x1AB0, 0x4F), .. Enumerable.Range(0x20D0, 0x21), .. Enumerable.Range(0xFE20, 0x10)];

    private static Gen<string> CodePoint(int from, int to) => Gen.Int[from, to].Select(cp => cp is >= 0xD800 and <= 0xDFFF ? "\uFFFD" : char.ConvertFromUtf32(cp));

    /// <summary>One piece of a hostile text.</summary>
    private static readonly Gen<string> Piece = Gen.Frequency(
        (10, Gen.Char["abcdefghijklmnopqrstuvwxyzABCXYZ0123456789"].Array[1, 12].Select(c => new string(c))),
        (4, Gen.OneOf<string>(" ", "  ", "\t", "\n", "\r\n", "\r", "\u000B", "\u000C", "\u0085", "\u00A0", "\u1680", "\u2000", "\u2028", "\u2029",
            "\u202F", "\u205F", "\u3000", "\u180E", "\u200B", "\uFEFF")),
        (3, Gen.Int[0, 0x1F].Select(c => ((char)c).ToString())),
        (2, Gen.Int[0x7F, 0x9F].Select(c => ((char)c).ToString())),
        (3, Gen.Int[0xD800, 0xDFFF].Select(c => ((char)c).ToString())),                                       // lone surrogates
        (2, Gen.Select(Gen.Int[0xD800, 0xDBFF], Gen.Int[0xDC00, 0xDFFF]).Select((h, l) => $"{(char)l}{(char)h}")), // reversed pairs
        (4, CodePoint(0, 0x10FFFF)),                                                                           // every plane
        (2, Gen.Int[0, 16].Select(plane => char.ConvertFromUtf32((plane << 16) | 0xFFFE))),                   // noncharacters
        (1, Gen.Int[0xFDD0, 0xFDEF].Select(c => ((char)c).ToString())),
        (2, Gen.OneOf(CodePoint(0xE000, 0xF8FF), CodePoint(0xF0000, 0xFFFFD), CodePoint(0x100000, 0x10FFFD))), // private use
        (2, Gen.OneOf<string>("\u200E", "\u200F", "\u202A", "\u202B", "\u202C", "\u202D", "\u202E", "\u2066", "\u2067", "\u2068", "\u2069",
            "\u061C", "שלום", "مرحبا", "\u05D0\u05B8", "\u0627\u064E\u0644")),                                    // bidirectional text
        (2, Gen.Select(Gen.Char["aeoAE\u3042\u05D0\u0627"], Gen.Int[0, Marks.Length - 1].Array[1, 300])
            .Select((b, ms) => b + string.Concat(ms.Select(m => (char)Marks[m])))),                            // combining floods
        (2, Gen.Select(Gen.OneOf<string>("a", "é", "\u0301", ".", " ", "ab", "💩", "\u4E00", "\0", "\uD800"), Gen.Int[50, 3000])
            .Select((s, n) => string.Concat(Enumerable.Repeat(s, n)))),                                         // long runs
        (3, Gen.OneOf<string>("[MASK]", "<mask>", " <mask>", "<s>", "</s>", "[CLS]", "[SEP]", "[PAD]", "<pad>", "<unk>", "[UNK]", "▁", "Ġ",
            "##", "##a", "<0x41>", "\u2581\u2581")),                                                           // special tokens as text
        (2, Gen.OneOf<string>("👩‍👩‍👧‍👦", "🇫🇷", "👍🏽", "❤\uFE0F", "\U000E0041\U000E0042", "🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F",
            "한국어", "\u1100\u1161\u11A8", "ภาษาไทย", "हिन्दी", "日本語のテキスト", "İ", "ß", "ﬁ", "Ⅻ", "㎏", "①", "ｆｕｌｌ")));

    private static readonly Gen<string> Text = Piece.Array[0, 50].Select(string.Concat);

    /// <summary>Every tokenizer family, from each file layout it is read from.</summary>
    private static readonly Lazy<Dictionary<string, TransformerTokenizer>> Tokenizers = new(() =>
    {
        var slowRoberta = ModelFolderCopy.Of(SharedData.Model("roberta-tiny")); // kept for the test run: only read
        slowRoberta.Delete("tokenizer.json");
        return new Dictionary<string, TransformerTokenizer>
        {
            ["WordPiece (tokenizer.json, uncased)"] = TransformerTokenizer.Load(SharedData.Model("bert-tiny-uncased")),
            ["WordPiece (vocab.txt, cased)"] = TransformerTokenizer.Load(SharedData.Model("bert-tiny-cased-sharded")),
            ["WordPiece (DistilBERT)"] = TransformerTokenizer.Load(FamilyFixtures.Folder("distilbert-tiny")),
            ["WordPiece (MPNet)"] = TransformerTokenizer.Load(FamilyFixtures.Folder("mpnet-tiny")),
            ["byte-level BPE (tokenizer.json)"] = TransformerTokenizer.Load(SharedData.Model("roberta-tiny")),
            ["byte-level BPE (vocab.json + merges.txt)"] = TransformerTokenizer.Load(slowRoberta.Path),
            ["Unigram (XLM-R, Precompiled)"] = TransformerTokenizer.Load(TestFixtures.Path("Unigram", "xlmr-unigram")),
            ["Unigram (byte fallback)"] = TransformerTokenizer.Load(TestFixtures.Path("Unigram", "unigram-bytefallback")),
        };
    });

    public static TheoryData<string> Families() => new(Tokenizers.Value.Keys);

    /// <summary>What every encoding of untrusted text keeps, beyond <see cref="TokenizerPropertyTests.CheckInvariants"/>.</summary>
    private static void Check(TransformerTokenizer tokenizer, TokenizedText e, string text, string? pair, int limit)
    {
        TokenizerPropertyTests.CheckInvariants(e, text, pair);
        Assert.True(e.Count <= limit, $"{e.Count} tokens over the limit {limit}");
        if (e.Truncated) Assert.Equal(limit, e.Count);
        for (var i = 0; i < e.Count; i++)
        {
            Assert.NotNull(tokenizer.IdToToken(e.Ids[i]));
            if (e.SequenceIds[i] is not { } seq) continue;
            var source = seq == 0 ? text : pair!;
            var (start, end) = (e.Offsets[i].Start, e.Offsets[i].End);
            Assert.False(SplitsPair(source, start), $"token {i} starts inside a surrogate pair at {start}");
            Assert.False(SplitsPair(source, end), $"token {i} ends inside a surrogate pair at {end}");
        }
        _ = tokenizer.Decode(e.Ids);
        _ = tokenizer.Decode(e.Ids, skipSpecialTokens: false);
    }

    private static bool SplitsPair(string s, int at) => at > 0 && at < s.Length && char.IsHighSurrogate(s[at - 1]) && char.IsLowSurrogate(s[at]);

    [Theory]
    [MemberData(nameof(Families))]
    public void Any_string_tokenizes_with_offsets_into_the_input(string family)
    {
        var tokenizer = Tokenizers.Value[family];
        Text.Sample(text =>
        {
            var e = tokenizer.Encode(text);
            Check(tokenizer, e, text, null, tokenizer.MaxLength);
            // The same text again (now from the tokenizer's word caches) gives the same tokens.
            Assert.Equal(e.Ids, tokenizer.Encode(text).Ids);
        }, iter: Iter(300));
        // A limit below the special tokens is the caller's mistake (ArgumentOutOfRangeException, documented); any other truncates.
        var (single, pair) = (tokenizer.Encode("").Count, tokenizer.Encode("", "").Count);
        Gen.Select(Text, Text, Gen.Int[0, 64]).Sample((a, b, limit) =>
        {
            if (limit < pair) Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Encode(a, b, limit));
            else Check(tokenizer, tokenizer.Encode(a, b, limit), a, b, limit);
        }, iter: Iter(150));
        Gen.Select(Text, Gen.Int[0, 40]).Sample((a, limit) =>
        {
            if (limit < single) Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Encode(a, limit));
            else Check(tokenizer, tokenizer.Encode(a, limit), a, null, limit);
        }, iter: Iter(150));
    }

    /// <summary>The big ones, once each: a 1 MB line, 100k-character words, a 100k combining flood, every plane in one string.</summary>
    public static IEnumerable<(string Name, string Text)> Giants()
    {
        var random = new Random(26);
        var line = new StringBuilder();
        string[] kinds = ["word", " ", "\0", "\uD800", "👩‍👩‍👧‍👦", "e\u0301\u0323", "\u202E", "日本語", "[MASK]", "<s>", "\u3000", "ﬁ"];
        while (line.Length < 1 << 20)
        {
            var kind = kinds[random.Next(kinds.Length)];
            if (kind == "word") line.Append((char)('a' + random.Next(26)), 1 + random.Next(12));
            else if (random.Next(8) == 0) line.Append(char.ConvertFromUtf32(random.Next(0x10FFFF) is var cp and (< 0xD800 or > 0xDFFF) ? cp : 0xFFFD));
            else line.Append(kind);
        }
        yield return ("a 1 MB line", line.ToString());
        yield return ("a 100k-character word", new string(Enumerable.Range(0, 100_000).Select(i => (char)('a' + random.Next(26))).ToArray()));
        yield return ("100k of one letter", new string('a', 100_000));
        yield return ("a 100k combining flood", "e" + new string('\u0301', 100_000));
        yield return ("100k astral characters", string.Concat(Enumerable.Repeat("𝔘", 100_000)));
        yield return ("100k lone surrogates", new string(Enumerable.Range(0, 100_000).Select(i => (char)(0xD800 + random.Next(0x800))).ToArray()));
        yield return ("100k NULs", new string('\0', 100_000));
        yield return ("100k bidi controls", string.Concat(Enumerable.Repeat("\u202E\u2067x", 33_000)));
        var planes = new StringBuilder();
        for (var cp = 0; cp <= 0x10FFFF; cp += 7)
            if (cp is < 0xD800 or > 0xDFFF) planes.Append(char.ConvertFromUtf32(cp));
        yield return ("every plane, every 7th code point", planes.ToString());
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Giant_texts_tokenize_whole_and_truncated(string family)
    {
        var tokenizer = Tokenizers.Value[family];
        foreach (var (name, text) in Giants())
        {
            var truncated = tokenizer.Encode(text);
            Check(tokenizer, truncated, text, null, tokenizer.MaxLength);
            Assert.True(truncated.Count == tokenizer.MaxLength || !truncated.Truncated, name);
            var whole = tokenizer.Encode(text, int.MaxValue);
            Check(tokenizer, whole, text, null, int.MaxValue);
            Assert.False(whole.Truncated, name);
            // Truncation keeps the front of the whole tokenization (HF's right truncation, early stop included).
            var body = truncated.Count - truncated.SpecialTokensMask.Sum();
            Assert.Equal(whole.Ids.Where((_, i) => whole.SpecialTokensMask[i] == 0).Take(body), truncated.Ids.Where((_, i) => truncated.SpecialTokensMask[i] == 0));
            Assert.Equal(whole.Count - whole.SpecialTokensMask.Sum() - body, truncated.TruncatedTokenCount);
        }
    }

    /// <summary>The embedders of each encoder family; every one reads hostile text end to end.</summary>
    public static TheoryData<string> Embedders() => new("bert-tiny-uncased", "roberta-tiny", "xlmr-tiny", "distilbert-tiny", "mpnet-tiny");

    private static string EmbedderFolder(string name) =>
        SharedData.ModelNames.Contains(name) ? SharedData.Model(name) : FamilyFixtures.Folder(name);

    [Theory]
    [MemberData(nameof(Embedders))]
    public void Any_strings_embed_to_finite_vectors(string model)
    {
        using var embedder = SentenceEmbedder.Load(EmbedderFolder(model));
        Text.Array[1, 6].Sample(texts =>
        {
            var vectors = embedder.Embed(texts);
            Assert.Equal(texts.Length, vectors.Count);
            Assert.All(vectors.Values.ToArray(), v => Assert.True(float.IsFinite(v)));
        }, iter: Iter(40));
        foreach (var (name, text) in Giants().Take(3))
        {
            var vector = embedder.Embed(text);
            Assert.True(vector.All(float.IsFinite), name);
            // Long texts in sliding windows: every window embeds, the average is finite.
            var windows = embedder.EmbedStream([text[..20_000]], new EmbeddingOptions { LongTexts = LongTextHandling.SlidingWindow }).Single();
            var tokens = embedder.Model.Tokenizer.Encode(text[..20_000], int.MaxValue).Count; // a WordPiece word over 100 chars is one [UNK]
            Assert.Equal(tokens > embedder.MaxSequenceLength, windows.Windows > 1);
            Assert.True(windows.Values.All(float.IsFinite), name);
        }
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Tokenization;
using Xunit;
using Xunit.Abstractions;

namespace TransformerEmbeddings.Tests.Tokenization;

/// <summary>The SentencePiece Unigram fixtures (Fixtures/Unigram, made by make_models.py and make_corpus.mjs).</summary>
internal static class UnigramFixtures
{
    public static readonly string[] Folders = ["xlmr-unigram", "unigram-bytefallback"];

    private static readonly Dictionary<string, Lazy<TransformerTokenizer>> Cache = Folders
        .ToDictionary(f => f, f => new Lazy<TransformerTokenizer>(() => TransformerTokenizer.Load(Folder(f))));

    public static string Folder(string name) => TestFixtures.Path("Unigram", name);

    public static TransformerTokenizer Get(string name) => Cache[name].Value;

    /// <summary>Writes tokenizer.json (with the fixture's other files) to a temporary folder and loads it.</summary>
    public static TransformerTokenizer FromJson(JsonNode tokenizerJson, string temp)
    {
        Directory.CreateDirectory(temp);
        File.WriteAllText(Path.Combine(temp, "tokenizer.json"), tokenizerJson.ToJsonString());
        foreach (var f in new[] { "tokenizer_config.json", "special_tokens_map.json" })
            File.Copy(Path.Combine(Folder("xlmr-unigram"), f), Path.Combine(temp, f), overwrite: true);
        return TransformerTokenizer.Load(temp);
    }
}

public sealed class UnigramParityTests(ITestOutputHelper output) : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("te-unigram-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    public static TheoryData<string> Folders => new(UnigramFixtures.Folders);

    [Theory]
    [MemberData(nameof(Folders))]
    public void Corpus_matches_HuggingFace_field_by_field(string folder)
    {
        using var doc = TestFixtures.ReadJson("Unigram", folder + ".corpus.json.gz");
        var cases = TokenizerParityTests.RunCorpus(doc.RootElement, UnigramFixtures.Get(folder));
        Assert.Equal(3468 + 300 + 60, cases.Count);
        var report = TokenizerParityTests.ReportBySection(folder, cases, out var failed);
        output.WriteLine(report);
        Assert.False(failed, report);
    }

    [Theory]
    [MemberData(nameof(Folders))]
    public void Decode_matches_HuggingFace(string folder)
    {
        using var doc = TestFixtures.ReadJson("Unigram", folder + ".corpus.json.gz");
        var tokenizer = UnigramFixtures.Get(folder);
        var expected = doc.RootElement.GetProperty("expected");
        var encodings = expected.GetProperty("sentences").EnumerateArray().ToArray();
        var decoded = expected.GetProperty("decoded").EnumerateArray().ToArray();
        Assert.Equal(encodings.Length, decoded.Length);
        var failures = new List<string>();
        for (var i = 0; i < encodings.Length; i++)
        {
            var ids = encodings[i].GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            foreach (var (skip, field) in new[] { (true, "skip"), (false, "keep") })
            {
                var want = decoded[i].GetProperty(field).GetString();
                var got = tokenizer.Decode(ids, skip);
                if (want != got) failures.Add($"sentences[{i}] skip={skip}: expected {JsonSerializer.Serialize(want)}, got {JsonSerializer.Serialize(got)}");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {2 * encodings.Length} decodes differ:\n" + string.Join("\n", failures.Take(10)));
    }

    public static TheoryData<string> Variants()
    {
        using var doc = TestFixtures.ReadJson("Unigram", "variants.json.gz");
        return new TheoryData<string>(doc.RootElement.GetProperty("variants").EnumerateArray().Select(v => v.GetProperty("name").GetString()!));
    }

    /// <summary>xlmr-unigram's tokenizer.json with one component changed (Metaspace schemes, NFC/NFKC, Strip, Replace, byte fallback ...).</summary>
    [Theory]
    [MemberData(nameof(Variants))]
    public void Component_variant_matches_HuggingFace(string name)
    {
        using var doc = TestFixtures.ReadJson("Unigram", "variants.json.gz");
        var variant = doc.RootElement.GetProperty("variants").EnumerateArray().Single(v => v.GetProperty("name").GetString() == name);
        var tokenizer = UnigramFixtures.FromJson(ApplyPatch(variant.GetProperty("patch")), temp);
        var texts = variant.GetProperty("texts").EnumerateArray().Select(x => x.GetString()!).ToArray();
        var expected = variant.GetProperty("expected").EnumerateArray().ToArray();
        var cases = new List<ParityCase>();
        var decodeFailures = new List<string>();
        for (var i = 0; i < texts.Length; i++)
        {
            var actual = tokenizer.Encode(texts[i]);
            cases.Add(new ParityCase($"{name}[{i}]", texts[i], null, ExpectedEncoding.From(expected[i]), actual));
            var want = expected[i].GetProperty("decoded").GetString();
            var got = tokenizer.Decode(actual.Ids);
            if (want != got) decodeFailures.Add($"{name}[{i}] decode: expected {JsonSerializer.Serialize(want)}, got {JsonSerializer.Serialize(got)}");
        }

        var pair = variant.GetProperty("pair");
        var (a, b) = (pair.GetProperty("text").GetString()!, pair.GetProperty("pair").GetString()!);
        cases.Add(new ParityCase($"{name} pair", a, b, ExpectedEncoding.From(pair.GetProperty("expected")), tokenizer.Encode(a, b)));
        var (agree, total, report) = ParityReport.Compare(name, cases);
        output.WriteLine(report);
        Assert.True(agree.Values.All(v => v == total), report);
        Assert.True(decodeFailures.Count == 0, string.Join("\n", decodeFailures));
    }

    public static TheoryData<string> RandomConfigurations => new("xlmr-unigram", "nfkc", "nfc", "nfkd");

    /// <summary>Seeded random strings dense in grapheme-cluster and normalization edge cases (see make_corpus.mjs).</summary>
    [Theory]
    [MemberData(nameof(RandomConfigurations))]
    public void Random_unicode_matches_HuggingFace(string configuration)
    {
        using var doc = TestFixtures.ReadJson("Unigram", "random-unicode.json.gz");
        var texts = doc.RootElement.GetProperty("texts").EnumerateArray().Select(x => x.GetString()!).ToArray();
        var config = doc.RootElement.GetProperty("configs").GetProperty(configuration);
        var tokenizer = UnigramFixtures.FromJson(ApplyPatch(config.GetProperty("patch")), temp);
        var expected = config.GetProperty("expected").EnumerateArray().ToArray();
        Assert.Equal(texts.Length, expected.Length);
        var actual = tokenizer.EncodeBatch(texts);
        var cases = texts.Select((t, i) => new ParityCase($"random[{i}]", t, null, ExpectedEncoding.From(expected[i]), actual[i])).ToList();
        var (agree, total, report) = ParityReport.Compare(configuration, cases);
        output.WriteLine(report);
        Assert.True(agree.Values.All(v => v == total), report);
    }

    private static JsonNode ApplyPatch(JsonElement patch)
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(UnigramFixtures.Folder("xlmr-unigram"), "tokenizer.json")))!;
        var charsmap = json["normalizer"]!["normalizers"]![0]!["precompiled_charsmap"]!.GetValue<string>();
        foreach (var p in patch.EnumerateObject())
        {
            if (p.Name == "byte_pieces")
            {
                // make_corpus.mjs withBytePieces: byte_fallback on, <0x00>..<0xFF> (score 0) inserted before <mask>.
                var vocab = json["model"]!["vocab"]!.AsArray();
                var mask = vocab[^1]!.DeepClone();
                vocab.RemoveAt(vocab.Count - 1);
                for (var b = 0; b < 256; b++) vocab.Add(new JsonArray($"<0x{b:X2}>", 0.0));
                vocab.Add(mask);
                json["model"]!["byte_fallback"] = true;
                foreach (var t in json["added_tokens"]!.AsArray())
                    if (t!["content"]!.GetValue<string>() == "<mask>")
                        t["id"] = vocab.Count - 1;
                continue;
            }

            json[p.Name] = JsonNode.Parse(p.Value.GetRawText().Replace("$BASE_CHARSMAP", charsmap, StringComparison.Ordinal));
        }

        return json;
    }

    /// <summary>Decode with the shared test models (WordPiece and byte-level BPE decoders) on the ids of the golden corpora.</summary>
    [Theory]
    [InlineData("bert-tiny-uncased")]
    [InlineData("all-MiniLM-L6-v2")]
    [InlineData("roberta-tiny")]
    public void Decode_of_existing_families_matches_HuggingFace(string model)
    {
        using var doc = TestFixtures.ReadJson("Unigram", "decode-existing.json.gz");
        using var corpus = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(SharedData.Golden, "tokenizers", "roberta-base.json")));
        var sentences = corpus.RootElement.GetProperty("sentences").EnumerateArray().Select(x => x.GetString()!).ToArray();
        var decoded = doc.RootElement.GetProperty("models").GetProperty(model).EnumerateArray().ToArray();
        Assert.Equal(sentences.Length, decoded.Length);
        var tokenizer = Tokenizers.Get(model);
        var failures = new List<string>();
        for (var i = 0; i < sentences.Length; i++)
        {
            var ids = tokenizer.Encode(sentences[i], 512).Ids;
            foreach (var (skip, field) in new[] { (true, "skip"), (false, "keep") })
            {
                var want = decoded[i].GetProperty(field).GetString();
                var got = tokenizer.Decode(ids, skip);
                if (want != got) failures.Add($"sentences[{i}] skip={skip}: expected {JsonSerializer.Serialize(want)}, got {JsonSerializer.Serialize(got)}");
            }
        }

        Assert.True(failures.Count == 0, $"{model}: {failures.Count} of {2 * sentences.Length} decodes differ:\n" + string.Join("\n", failures.Take(10)));
    }
}

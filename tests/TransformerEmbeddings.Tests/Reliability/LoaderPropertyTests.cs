using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Fuzz;
using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Tokenization;
using TransformerEmbeddings.Weights;
using Xunit;

namespace TransformerEmbeddings.Tests.Reliability;

/// <summary>
/// Property tests for every reader of a model folder (issue 26): the config reader, every tokenizer loader (tokenizer.json
/// of each family, vocab.txt, vocab.json + merges.txt, tokenizer_config.json, special_tokens_map.json), the
/// sentence-transformers settings and the safetensors header. Valid files are damaged — a JSON value replaced by a hostile
/// one, a property dropped, an element repeated, bytes flipped, inserted, cut — and whatever comes out must load and work
/// or fail with the documented exception; nothing else. The same targets run coverage-guided under AFL++ (fuzz/); the
/// committed corpus and every finding replay here. A fixed budget in CI (<c>CsCheck_Iter</c> runs longer).
/// </summary>
public sealed class LoaderPropertyTests : IDisposable
{
    public void Dispose() => Targets.CleanUp();

    private static long Iter(long ci) => Environment.GetEnvironmentVariable("CsCheck_Iter") is { Length: > 0 } v ? long.Parse(v) : ci;

    /// <summary>The repository's fuzz/ folder: the AFL++ harness, its seed corpus and its past findings.</summary>
    public static string FuzzFolder => Path.GetFullPath(Path.Combine(TestFixtures.Root, "..", "..", "..", "fuzz"));

    private static readonly JsonNode?[] Hostile =
    [
        null, true, false, 0, -1, 1, 3, int.MaxValue, 2147483648L, -2147483649L, long.MaxValue, 1e308, -1e-308, 0.5, "", "x", "-1", "1e9",
        new string('a', 10_000), "../../../etc/passwd", "/etc/passwd", "\u0000", "\uD800", "[UNK]", "<unk>", "mean", "gelu", "bert",
        new JsonArray(), new JsonObject(), new JsonArray(1, 2), new JsonArray("a", "b"), new JsonObject { ["type"] = "x" },
        new JsonArray(new JsonArray(0, 1)), new JsonObject { ["id"] = -1, ["content"] = "" },
    ];

    /// <summary>Bytes that matter to JSON and to the numbers in it.</summary>
    private static readonly byte[] Punctuation = "{}[]\":,-.0123456789eE\\u \n"u8.ToArray();

    private enum Edit { Replace, Remove, Repeat, Flip, Insert, Delete, Truncate }

    /// <summary>Every value of a JSON tree with a way to replace it, remove it and repeat it.</summary>
    private static List<JsonNode> Nodes(JsonNode root)
    {
        var all = new List<JsonNode>();
        void Walk(JsonNode? n)
        {
            if (n is null) return;
            all.Add(n);
            switch (n)
            {
                case JsonObject o: foreach (var (_, v) in o.ToList()) Walk(v); break;
                case JsonArray a: foreach (var v in a.ToList()) Walk(v); break;
            }
        }
        Walk(root);
        return all;
    }

    /// <summary>Damages a JSON file: 1–3 edits, structural or on its bytes.</summary>
    private static Gen<byte[]> Damaged(byte[] seed) =>
        Gen.Select(Gen.Enum<Edit>(), Gen.Int, Gen.Int[0, Hostile.Length - 1], Gen.Byte).Array[1, 3].Select(edits =>
        {
            var root = JsonNode.Parse(seed)!;
            byte[]? bytes = null;
            foreach (var (edit, where, value, b) in edits)
            {
                if (bytes is null && edit is Edit.Replace or Edit.Remove or Edit.Repeat)
                {
                    var nodes = Nodes(root);
                    var node = nodes[(int)((uint)where % nodes.Count)];
                    if (node.Parent is not { } parent) continue;
                    var replacement = Hostile[value]?.DeepClone();
                    switch (parent, edit)
                    {
                        case (JsonObject o, Edit.Remove): o.Remove(node.GetPropertyName()); break;
                        case (JsonObject o, _): o[node.GetPropertyName()] = replacement; break;
                        case (JsonArray a, Edit.Remove): a.RemoveAt(node.GetElementIndex()); break;
                        case (JsonArray a, Edit.Repeat): a.Add(node.DeepClone()); break;
                        case (JsonArray a, _): a[node.GetElementIndex()] = replacement; break;
                    }
                    continue;
                }
                bytes ??= Encoding.UTF8.GetBytes(root.ToJsonString());
                if (bytes.Length == 0) continue;
                var at = (int)((uint)where % (uint)bytes.Length);
                bytes = edit switch
                {
                    Edit.Flip => [.. bytes[..at], (byte)(bytes[at] ^ (1 << (b % 8))), .. bytes[(at + 1)..]],
                    Edit.Insert => [.. bytes[..at], Punctuation[b % Punctuation.Length], .. bytes[at..]],
                    Edit.Delete => [.. bytes[..at], .. bytes[(at + 1)..]],
                    _ => bytes[..at],
                };
            }
            return bytes ?? Encoding.UTF8.GetBytes(root.ToJsonString());
        });

    private static void Refused<T>(Action load) where T : TransformerEmbeddingsException
    {
        try
        {
            load();
        }
        catch (T)
        {
        }
    }

    public static TheoryData<string> ConfigSeeds() => new("all-MiniLM-L6-v2", "bert-tiny-cased-sharded", "roberta-tiny", "xlmr-tiny", "distilbert-tiny", "mpnet-tiny");

    private static string Folder(string name) => SharedData.ModelNames.Contains(name) ? SharedData.Model(name) : FamilyFixtures.Folder(name);

    [Theory]
    [MemberData(nameof(ConfigSeeds))]
    public void A_damaged_config_json_parses_or_fails_with_ModelConfigurationException(string model)
    {
        var seed = File.ReadAllBytes(Path.Combine(Folder(model), "config.json"));
        Damaged(seed).Sample(bytes =>
        {
            Refused<ModelConfigurationException>(() =>
            {
                var config = EncoderConfig.Parse(Encoding.UTF8.GetString(bytes), "config.json");
                // What parses is sane: the numbers the model allocates from are positive and consistent.
                Assert.True(config.HiddenSize > 0 && config.NumAttentionHeads > 0 && config.HiddenSize % config.NumAttentionHeads == 0);
                Assert.True(config.NumHiddenLayers > 0 && config.VocabSize > 0 && config.MaxPositionEmbeddings > 0 && config.IntermediateSize > 0);
            });
        }, iter: Iter(400));
    }

    public static TheoryData<string> TokenizerSeeds() => new(Directory.GetFiles(Path.Combine(FuzzFolder, "corpus", "tokenizer")).Select(Path.GetFileName).Order()!);

    [Theory]
    [MemberData(nameof(TokenizerSeeds))]
    public void A_damaged_tokenizer_json_loads_and_encodes_or_fails_with_TokenizerException(string seed)
    {
        var bytes = File.ReadAllBytes(Path.Combine(FuzzFolder, "corpus", "tokenizer", seed));
        Assert.StartsWith("loaded", Targets.Tokenizer(bytes)); // the seed itself is a working tokenizer
        Damaged(bytes).Sample(damaged => { Targets.Tokenizer(damaged); }, iter: Iter(150));
    }

    /// <summary>The files of the tokenizers read without a tokenizer.json, each damaged in turn.</summary>
    public static TheoryData<string, string> LegacyTokenizerFiles() => new()
    {
        { "bert-tiny-cased-sharded", "vocab.txt" },
        { "bert-tiny-cased-sharded", "tokenizer_config.json" },
        { "roberta-tiny", "vocab.json" },
        { "roberta-tiny", "merges.txt" },
        { "roberta-tiny", "tokenizer_config.json" },
        { "roberta-tiny", "special_tokens_map.json" },
    };

    [Theory]
    [MemberData(nameof(LegacyTokenizerFiles))]
    public void A_damaged_vocabulary_or_tokenizer_setting_loads_or_fails_with_TokenizerException(string model, string file)
    {
        using var folder = ModelFolderCopy.Of(SharedData.Model(model));
        folder.Delete("tokenizer.json");
        var original = File.ReadAllBytes(folder.File(file));
        // Text files are damaged line-wise as well as byte-wise: a line dropped, repeated, or replaced by a hostile one.
        var gen = file.EndsWith(".json", StringComparison.Ordinal) ? Damaged(original) : DamagedLines(original);
        var sync = new object();
        gen.Sample(bytes =>
        {
            lock (sync) // one folder, one file at a time
            {
                File.WriteAllBytes(folder.File(file), bytes);
                Refused<TokenizerException>(() =>
                {
                    var tokenizer = TransformerTokenizer.Load(folder.Path);
                    var e = tokenizer.Encode("Hello, world! naïve 日本語 \uD800 [MASK] <mask>", "a pair", int.MaxValue);
                    Assert.All(e.Ids, id => Assert.NotNull(tokenizer.IdToToken(id)));
                    _ = tokenizer.Decode(e.Ids, skipSpecialTokens: false);
                });
            }
        }, iter: Iter(60), threads: 1);
    }

    private static Gen<byte[]> DamagedLines(byte[] seed)
    {
        var lines = Encoding.UTF8.GetString(seed).Split('\n');
        string[] hostile = ["", " ", "[UNK]", "#version: 0.2", "a b c", "Ġ Ġ", "Ġ", "##", "\0", "\uD800", new string('x', 5000), "[PAD]", "<s>", "e \u0301", " a"];
        return Gen.Select(Gen.Int[0, 3], Gen.Int[0, lines.Length - 1], Gen.Int[0, hostile.Length - 1]).Array[1, 4].Select(edits =>
        {
            var list = lines.ToList();
            foreach (var (kind, at, value) in edits)
            {
                var i = Math.Min(at, list.Count - 1);
                if (i < 0) break;
                switch (kind)
                {
                    case 0: list.RemoveAt(i); break;
                    case 1: list.Insert(i, list[i]); break;
                    case 2: list[i] = hostile[value]; break;
                    default: list.RemoveRange(i, list.Count - i); break;
                }
            }
            return Encoding.UTF8.GetBytes(string.Join('\n', list));
        });
    }

    /// <summary>sentence-transformers' settings: modules.json, the Pooling and Dense configs, sentence_bert_config.json.</summary>
    public static TheoryData<string> SentenceTransformersFiles() => new("modules.json", "1_Pooling/config.json", "2_Dense/config.json", "sentence_bert_config.json", "config_sentence_transformers.json");

    [Theory]
    [MemberData(nameof(SentenceTransformersFiles))]
    public void A_damaged_sentence_transformers_setting_loads_or_fails_with_a_TransformerEmbeddingsException(string file)
    {
        using var folder = ModelFolderCopy.SentenceTransformers();
        var original = File.ReadAllBytes(folder.File(file));
        var sync = new object();
        Damaged(original).Sample(bytes =>
        {
            lock (sync)
            {
                File.WriteAllBytes(folder.File(file), bytes);
                Refused<TransformerEmbeddingsException>(() =>
                {
                    using var embedder = SentenceEmbedder.Load(folder.Path);
                    Assert.All(embedder.Embed("a text to embed"), v => Assert.True(float.IsFinite(v)));
                });
            }
        }, iter: Iter(25), threads: 1);
    }

    public static TheoryData<string, string> JsonSettingsFiles() => new()
    {
        { "sentence-transformers", "modules.json" }, { "sentence-transformers", "1_Pooling/config.json" },
        { "sentence-transformers", "2_Dense/config.json" }, { "sentence-transformers", "sentence_bert_config.json" },
        { "bert-tiny-cased-sharded", "model.safetensors.index.json" }, { "all-MiniLM-L6-v2", "tokenizer.json" },
    };

    /// <summary>
    /// Bytes that are not UTF-8 inside a JSON string: System.Text.Json parses the document and fails only when the string
    /// is read, with InvalidOperationException (found by the property above with seed 7Sln5DUcalhb, modules.json).
    /// </summary>
    [Theory]
    [MemberData(nameof(JsonSettingsFiles))]
    public void A_json_setting_with_bytes_that_are_not_UTF8_is_refused_with_the_library_exception(string model, string file)
    {
        using var folder = model == "sentence-transformers" ? ModelFolderCopy.SentenceTransformers() : ModelFolderCopy.Of(SharedData.Model(model));
        var bytes = File.ReadAllBytes(folder.File(file)).ToList();
        bytes.InsertRange(bytes.IndexOf((byte)'"') + 1, new byte[] { 0xED, 0xA0, 0x80 }); // an encoded surrogate, inside the first string
        folder.WriteBytes(file, bytes.ToArray());
        var e = Assert.ThrowsAny<TransformerEmbeddingsException>(() =>
        {
            using var embedder = SentenceEmbedder.Load(folder.Path);
        });
        Assert.Contains("UTF-8", e.Message);
    }

    [Fact]
    public void A_safetensors_header_with_hostile_values_opens_or_fails_with_SafeTensorsException()
    {
        // The byte-level properties are SafeTensorsFuzzTests; these replace values inside the header's JSON (dtypes, shapes,
        // offsets, metadata) and keep the length prefix right, so the checks past the JSON parser are reached.
        foreach (var seed in Directory.GetFiles(Path.Combine(FuzzFolder, "corpus", "safetensors")))
        {
            var file = File.ReadAllBytes(seed);
            var headerLength = (int)BitConverter.ToUInt64(file, 0);
            var header = file[8..(8 + headerLength)];
            var data = file[(8 + headerLength)..];
            Assert.StartsWith("opened", Targets.SafeTensors(file));
            Damaged(header).Sample(damaged =>
            {
                var outcome = Targets.SafeTensors([.. BitConverter.GetBytes((ulong)damaged.Length), .. damaged, .. data]);
                Assert.True(outcome.StartsWith("opened", StringComparison.Ordinal) || outcome.StartsWith("refused: SafeTensorsException", StringComparison.Ordinal), outcome);
            }, iter: Iter(300));
        }
    }

    /// <summary>Every file of the committed corpus and every past finding (fuzz/corpus, fuzz/findings), per target.</summary>
    public static TheoryData<string, string> FuzzFiles()
    {
        var data = new TheoryData<string, string>();
        foreach (var kind in new[] { "corpus", "findings" })
            foreach (var target in Targets.ByName.Keys)
            {
                var dir = Path.Combine(FuzzFolder, kind, target);
                if (!Directory.Exists(dir)) continue;
                foreach (var f in Directory.GetFiles(dir).Order()) data.Add(target, Path.GetRelativePath(FuzzFolder, f));
            }
        return data;
    }

    [Theory]
    [MemberData(nameof(FuzzFiles))]
    public void The_fuzz_corpus_and_every_past_finding_replay_without_a_crash(string target, string file)
    {
        var outcome = Targets.ByName[target](File.ReadAllBytes(Path.Combine(FuzzFolder, file)));
        Assert.True(outcome.StartsWith("loaded", StringComparison.Ordinal) || outcome.StartsWith("opened", StringComparison.Ordinal) || outcome.StartsWith("refused", StringComparison.Ordinal), outcome);
        if (file.StartsWith("corpus", StringComparison.Ordinal)) Assert.DoesNotContain("refused", outcome); // seeds are valid files
    }
}

using System.Text.Json;
using TransformerEmbeddings.Configuration;

namespace TransformerEmbeddings.Tokenization;

/// <summary>Builds a <see cref="TransformerTokenizer"/> from a HuggingFace model folder.</summary>
internal static class TokenizerLoader
{
    private static readonly string[] SpecialTokenAttributes =
        ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

    public static TransformerTokenizer Load(string folder, TokenizerOptions options)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder)) throw new TokenizerException($"The tokenizer folder '{folder}' does not exist.");

        var configPath = Path.Combine(folder, "tokenizer_config.json");
        var config = ReadJson(configPath, ModelFile.MaxSettingsBytes);
        var specialMap = ReadJson(Path.Combine(folder, "special_tokens_map.json"), ModelFile.MaxSettingsBytes);
        var modelConfig = ReadJson(Path.Combine(folder, "config.json"), ModelFile.MaxSettingsBytes);
        var tokenizerJson = Path.Combine(folder, "tokenizer.json");
        var vocabTxt = Path.Combine(folder, "vocab.txt");
        var vocabJson = Path.Combine(folder, "vocab.json");
        var mergesTxt = Path.Combine(folder, "merges.txt");

        Built built;
        string source;
        if (Exists(tokenizerJson)) built = FromTokenizerJson(source = tokenizerJson);
        else if (Exists(vocabTxt)) built = Malformed(source = vocabTxt, () => FromVocabTxt(folder, config, specialMap));
        else if (Exists(vocabJson) && Exists(mergesTxt))
            built = Malformed(source = vocabJson, () => FromVocabJsonMerges(folder, config, specialMap));
        else if (Directory.EnumerateFiles(folder, "*.model").FirstOrDefault() is { } spm)
            throw new TokenizerException($"'{folder}' holds the SentencePiece model '{Path.GetFileName(spm)}' but no tokenizer.json, which this library reads. " +
                                         "Write one with transformers: AutoTokenizer.from_pretrained(folder).save_pretrained(folder).");
        else
            throw new TokenizerException($"'{folder}' holds no tokenizer: expected tokenizer.json, vocab.txt, or vocab.json with merges.txt.");

        var maxLength = options.MaxLength ?? (options.ApplyTokenizerJsonTruncation ? built.JsonTruncation : null)
            ?? DefaultMaxLength(config, modelConfig);
        if (maxLength < 0) throw new TokenizerException($"{(options.MaxLength is null ? source : folder)}: the maximum length {maxLength} is negative.");

        var added = built.Added;
        int? IdOf(string? token) => token == null ? null : added.TokenToId(token, built.Model);

        var padToken = SpecialToken(config, specialMap, "pad_token") ?? built.JsonPadToken
            ?? (built.Kind == TokenizerKind.WordPiece ? "[PAD]" : "<pad>");
        var padId = IdOf(padToken) ?? (IntOf(modelConfig, "pad_token_id") is >= 0 and var configPad ? configPad : 0);
        var maskToken = SpecialToken(config, specialMap, "mask_token")
            ?? (IdOf("[MASK]") != null ? "[MASK]" : IdOf("<mask>") != null ? "<mask>" : null);
        var maskId = IdOf(maskToken);
        if (maskId == null) maskToken = null;

        var cleanUp = config is { ValueKind: JsonValueKind.Object } cfg && cfg.TryGetProperty("clean_up_tokenization_spaces", out var c) && c.ValueKind == JsonValueKind.True;
        return new TransformerTokenizer(built.Normalizer, built.PreTokenizer, built.Model, built.PostProcessor, added,
            built.Decoder, built.Kind, maxLength, padToken, padId, maskToken, maskId, source, cleanUp);
    }

    /// <summary>How a tokenizer file's failure is reported: a <see cref="TokenizerException"/> naming it.</summary>
    private static ModelFile.Failure Fail(string path) => (message, inner) => new TokenizerException($"{path}: {message}", inner);

    /// <summary>Whether a tokenizer file is there; a folder or a broken link in its place is an error.</summary>
    private static bool Exists(string path) => ModelFile.Exists(path, Fail(path));

    /// <summary>
    /// Builds from a file whose values the JSON reader checks as it goes (a number where a string should be, an id beyond 32
    /// bits): those failures become a <see cref="TokenizerException"/> naming the file.
    /// </summary>
    private static T Malformed<T>(string path, Func<T> build)
    {
        try
        {
            return build();
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException or OverflowException
                                      or IndexOutOfRangeException or ArgumentException)
        {
            throw new TokenizerException($"{path}: malformed ({e.Message}).", e);
        }
    }

    /// <summary>A 32-bit integer field of a JSON object, or null when it is absent or not one.</summary>
    private static int? IntOf(JsonElement? root, string name) =>
        root is { ValueKind: JsonValueKind.Object } r && r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i)
            ? i
            : null;

    /// <summary>A token id of a file: a JSON integer in 0..2³¹-1 (HF's ids are unsigned 32-bit).</summary>
    private static int Id(string path, JsonElement value, string what)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var id) || id < 0)
            throw new TokenizerException($"{path}: {what} has id {Shorten(value.GetRawText())}; ids are integers in 0..{int.MaxValue}.");
        return id;
    }

    /// <summary>A value quoted in a message, cut short when a hostile file makes it long.</summary>
    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";

    /// <summary>
    /// Refuses ids that would make the id → token table absurdly large for the vocabulary's size (the table is an array;
    /// a file with two tokens must not make it allocate gigabytes). Holes are allowed up to half the table.
    /// </summary>
    private static void CheckDense(string path, IReadOnlyDictionary<string, int> vocab)
    {
        if (vocab.Count == 0) return;
        var (token, largest) = vocab.MaxBy(kv => kv.Value);
        if (largest >= 2L * vocab.Count + 1024)
            throw new TokenizerException($"{path}: '{Shorten(token)}' has id {largest}, but the vocabulary holds only {vocab.Count} tokens; ids this sparse are not a vocabulary.");
    }

    private sealed record Built(INormalizer? Normalizer, IPreTokenizer? PreTokenizer, ITokenizerModel Model,
        IPostProcessor PostProcessor, AddedVocabulary Added, IDecoder? Decoder, TokenizerKind Kind, int? JsonTruncation, string? JsonPadToken);

    private static JsonElement? ReadJson(string path, long maxBytes)
    {
        if (!Exists(path)) return null;
        var bytes = ModelFile.ReadAllBytes(path, maxBytes, Fail(path));
        if (bytes.AsSpan().Trim(" \t\r\n"u8).IsEmpty) throw new TokenizerException($"{path}: the file is empty.");
        // JsonDocument checks UTF-8 inside strings only when one is read (then InvalidOperationException).
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new TokenizerException($"{path}: the file is not valid UTF-8 text; tokenizer files must be UTF-8.");
        try
        {
            using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowTrailingCommas = true });
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new TokenizerException($"{path}: invalid JSON ({e.Message}).", e);
        }
    }

    private static int DefaultMaxLength(JsonElement? config, JsonElement? modelConfig)
    {
        long? limit = null;
        if (config?.TryGetProperty("model_max_length", out var m) == true && m.ValueKind == JsonValueKind.Number)
        {
            var v = m.GetDouble();
            if (v > 0 && v < int.MaxValue) limit = (long)v;
        }

        // config.json is checked by EncoderConfig; here an odd value only leaves the limit to the other sources.
        if (IntOf(modelConfig, "max_position_embeddings") is > 0 and var maxPositions)
        {
            var type = modelConfig?.TryGetProperty("model_type", out var mt) == true && mt.ValueKind == JsonValueKind.String ? mt.GetString() : null;
            long positions = maxPositions;
            if (ModelArchitectures.Of(type) is { } architecture)
                positions = ModelArchitectures.MaxSequenceLength(architecture, maxPositions,
                    IntOf(modelConfig, "pad_token_id") ?? ModelArchitectures.DefaultPadTokenId(architecture));
            if (positions > 0) limit = limit == null ? positions : Math.Min(limit.Value, positions);
        }

        return (int)(limit ?? 512);
    }

    /// <summary>A special token of tokenizer_config.json (preferred) or special_tokens_map.json: a string or {content: ...}.</summary>
    private static string? SpecialToken(JsonElement? config, JsonElement? specialMap, string name) =>
        TokenContent(config, name) ?? TokenContent(specialMap, name);

    private static string? TokenContent(JsonElement? root, string name)
    {
        if (root is not { ValueKind: JsonValueKind.Object } r || !r.TryGetProperty(name, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object when v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            _ => null,
        };
    }

    private static bool? Flag(JsonElement? root, string name, string? sub = null)
    {
        if (root is not { ValueKind: JsonValueKind.Object } r || !r.TryGetProperty(name, out var v)) return null;
        if (sub != null)
        {
            if (v.ValueKind != JsonValueKind.Object || !v.TryGetProperty(sub, out v)) return null;
        }

        return v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => null };
    }

    // ---------------------------------------------------------------- tokenizer.json

    private static Built FromTokenizerJson(string path)
    {
        var root = ReadJson(path, ModelFile.MaxVocabularyBytes)!.Value;
        if (root.ValueKind != JsonValueKind.Object) throw new TokenizerException($"{path}: expected a JSON object, found {root.ValueKind}.");
        try
        {
            var normalizer = ParseNormalizer(path, root.TryGetProperty("normalizer", out var n) ? n : default);
            var preTokenizer = ParsePreTokenizer(path, root.TryGetProperty("pre_tokenizer", out var pt) ? pt : default);
            if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
                throw new TokenizerException($"{path}: the 'model' block is missing.");
            var modelType = model.TryGetProperty("type", out var mt) ? mt.GetString() : InferModelType(model);
            if (model.TryGetProperty("max_input_chars_per_word", out var maxChars) && maxChars.ValueKind == JsonValueKind.Number && (!maxChars.TryGetInt32(out var mc) || mc < 0))
                throw new TokenizerException($"{path}: the WordPiece max_input_chars_per_word {Shorten(maxChars.GetRawText())} is not a count of characters.");
            ITokenizerModel m;
            TokenizerKind kind;
            switch (modelType)
            {
                case "WordPiece":
                    m = new WordPieceModel(ReadVocabObject(path, model), Str(model, "unk_token") ?? "[UNK]",
                        Str(model, "continuing_subword_prefix") ?? "##",
                        model.TryGetProperty("max_input_chars_per_word", out var mx) && mx.ValueKind == JsonValueKind.Number ? mx.GetInt32() : 100, path);
                    kind = TokenizerKind.WordPiece;
                    break;
                case "BPE":
                    CheckBpeOptions(path, model);
                    if (preTokenizer is not ByteLevelPreTokenizer)
                        throw new TokenizerException($"{path}: a BPE model is supported only with the ByteLevel pre_tokenizer.");
                    m = new ByteLevelBpeModel(ReadVocabObject(path, model), ReadMergesJson(path, model),
                        model.TryGetProperty("ignore_merges", out var im) && im.ValueKind == JsonValueKind.True, path);
                    kind = TokenizerKind.ByteLevelBpe;
                    break;
                case "Unigram":
                    m = new UnigramModel(ReadUnigramVocab(path, model),
                        model.TryGetProperty("unk_id", out var unk) && unk.ValueKind == JsonValueKind.Number ? unk.GetInt32() : null,
                        Bool(model, "byte_fallback", false), path);
                    kind = TokenizerKind.Unigram;
                    break;
                default:
                    throw new TokenizerException($"{path}: model type '{modelType}' is not supported (WordPiece, BPE, Unigram).");
            }

            var addedTokens = new List<AddedToken>();
            var byContent = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
            var byId = new Dictionary<int, AddedToken>();
            if (root.TryGetProperty("added_tokens", out var at) && at.ValueKind == JsonValueKind.Array)
            {
                foreach (var t in at.EnumerateArray())
                {
                    var content = Str(t, "content") ?? throw new TokenizerException($"{path}: an added_tokens entry has no 'content'.");
                    if (content.Length == 0) continue;
                    var special = Bool(t, "special", false);
                    var id = t.TryGetProperty("id", out var idValue) ? Id(path, idValue, $"the added token '{Shorten(content)}'")
                        : throw new TokenizerException($"{path}: the added token '{Shorten(content)}' has no 'id'.");
                    // Two entries for one token, or one id for two tokens, make ids and tokens ambiguous both ways.
                    if ((byContent.GetValueOrDefault(content) ?? byId.GetValueOrDefault(id)) is { } clash)
                        throw new TokenizerException($"{path}: the added tokens '{Shorten(clash.Content)}' (id {clash.Id}) and '{Shorten(content)}' (id {id}) clash: " +
                                                     "each token appears once, with an id of its own.");
                    var token = new AddedToken(content, id, Bool(t, "single_word", false),
                        Bool(t, "lstrip", false), Bool(t, "rstrip", false), Bool(t, "normalized", !special), special);
                    addedTokens.Add(byContent[content] = byId[id] = token);
                }
            }

            var post = ParsePostProcessor(path, root.TryGetProperty("post_processor", out var pp) ? pp : default, m, addedTokens);
            int? truncation = null;
            if (root.TryGetProperty("truncation", out var tr) && tr.ValueKind == JsonValueKind.Object)
            {
                var strategy = Str(tr, "strategy") ?? "LongestFirst";
                var direction = Str(tr, "direction") ?? "Right";
                var stride = tr.TryGetProperty("stride", out var st) && st.ValueKind == JsonValueKind.Number ? st.GetInt32() : 0;
                if (strategy != "LongestFirst" || direction != "Right" || stride != 0)
                    throw new TokenizerException($"{path}: truncation strategy '{strategy}', direction '{direction}', stride {stride} is not supported (LongestFirst, Right, 0).");
                truncation = tr.GetProperty("max_length").GetInt32();
                if (truncation < 0) throw new TokenizerException($"{path}: the truncation max_length {truncation} is negative.");
            }

            string? padToken = null;
            if (root.TryGetProperty("padding", out var pad) && pad.ValueKind == JsonValueKind.Object) padToken = Str(pad, "pad_token");

            var decoder = ParseDecoder(path, root.TryGetProperty("decoder", out var dec) ? dec : default);
            return new Built(normalizer, preTokenizer, m, post, new AddedVocabulary(addedTokens, normalizer), decoder, kind, truncation, padToken);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException or OverflowException
                                      or IndexOutOfRangeException or ArgumentException)
        {
            throw new TokenizerException($"{path}: malformed tokenizer.json ({e.Message}).", e);
        }
    }

    private static string InferModelType(JsonElement model) =>
        model.TryGetProperty("merges", out _) ? "BPE"
        : model.TryGetProperty("continuing_subword_prefix", out _) ? "WordPiece"
        : model.TryGetProperty("vocab", out var v) && v.ValueKind == JsonValueKind.Array ? "Unigram"
        : "unknown";

    private static List<(string, double)> ReadUnigramVocab(string path, JsonElement model)
    {
        if (!model.TryGetProperty("vocab", out var v) || v.ValueKind != JsonValueKind.Array)
            throw new TokenizerException($"{path}: the Unigram model's 'vocab' is missing or not an array of [piece, score].");
        var vocab = new List<(string, double)>(v.GetArrayLength());
        foreach (var entry in v.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Array || entry.GetArrayLength() != 2 || entry[0].ValueKind != JsonValueKind.String ||
                entry[1].ValueKind != JsonValueKind.Number)
                throw new TokenizerException($"{path}: Unigram vocab entry {vocab.Count} is not [piece, score].");
            vocab.Add((entry[0].GetString()!, entry[1].GetDouble()));
        }

        return vocab;
    }

    /// <summary>A single char of a tokenizer.json field (Metaspace replacement, Strip content).</summary>
    private static int SingleChar(string path, JsonElement e, string name, string component, int fallback)
    {
        var s = Str(e, name);
        if (s == null) return fallback;
        var chars = NormalizedText.FromText(s, 0, s.Length);
        if (chars.Count != 1)
            throw new TokenizerException($"{path}: {component} '{name}' must be one character; got \"{s}\".");
        return chars[0].Cp;
    }

    private static ReplacePattern ParsePattern(string path, JsonElement e, string component)
    {
        if (e.TryGetProperty("pattern", out var p) && p.ValueKind == JsonValueKind.Object)
        {
            if (Str(p, "String") is { } literal) return ReplacePattern.Literal(literal);
            if (Str(p, "Regex") is { } regex) return ReplacePattern.FromRegex(regex, path);
        }

        throw new TokenizerException($"{path}: {component} needs a 'pattern' of {{\"String\": ...}} or {{\"Regex\": ...}}.");
    }

    private static PrependScheme ParsePrependScheme(string path, JsonElement p)
    {
        var scheme = Str(p, "prepend_scheme") switch
        {
            null or "always" => PrependScheme.Always,
            "first" => PrependScheme.First,
            "never" => PrependScheme.Never,
            var other => throw new TokenizerException($"{path}: Metaspace prepend_scheme '{other}' is not one of always, first, never."),
        };
        // Files written before prepend_scheme existed say add_prefix_space (false means never).
        if (p.TryGetProperty("add_prefix_space", out var aps) && aps.ValueKind == JsonValueKind.False)
        {
            if (p.TryGetProperty("prepend_scheme", out _) && scheme != PrependScheme.Never)
                throw new TokenizerException($"{path}: Metaspace add_prefix_space false contradicts prepend_scheme '{Str(p, "prepend_scheme")}'.");
            scheme = PrependScheme.Never;
        }

        return scheme;
    }

    private static IDecoder? ParseDecoder(string path, JsonElement d)
    {
        if (d.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return null;
        var type = Str(d, "type");
        return type switch
        {
            "Metaspace" => new MetaspaceDecoder(SingleChar(path, d, "replacement", "Metaspace decoder", 0x2581), ParsePrependScheme(path, d)),
            "ByteFallback" => new ByteFallbackDecoder(),
            "Fuse" => new FuseDecoder(),
            "Strip" => new StripDecoder(SingleChar(path, d, "content", "Strip decoder", ' '),
                d.TryGetProperty("start", out var st) && st.ValueKind == JsonValueKind.Number ? st.GetInt32() : 0,
                d.TryGetProperty("stop", out var sp) && sp.ValueKind == JsonValueKind.Number ? sp.GetInt32() : 0),
            "Replace" => new ReplaceDecoder(ParsePattern(path, d, "the Replace decoder"), Str(d, "content") ?? ""),
            "WordPiece" => new WordPieceDecoder(Str(d, "prefix") ?? "##", Bool(d, "cleanup", true)),
            "ByteLevel" => new ByteLevelDecoder(),
            "BPEDecoder" => new BpeDecoder(Str(d, "suffix") ?? "</w>"),
            "Sequence" => new SequenceDecoder(d.GetProperty("decoders").EnumerateArray().Select(x => ParseDecoder(path, x)!).ToList()),
            _ => throw new TokenizerException($"{path}: decoder type '{type}' is not supported (Metaspace, ByteFallback, Fuse, Strip, Replace, WordPiece, ByteLevel, BPEDecoder, Sequence)."),
        };
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool Bool(JsonElement e, string name, bool fallback) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => fallback } : fallback;

    private static INormalizer? ParseNormalizer(string path, JsonElement n)
    {
        if (n.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return null;
        var type = Str(n, "type");
        switch (type)
        {
            case "BertNormalizer":
                var lowercase = Bool(n, "lowercase", true);
                bool strip = n.TryGetProperty("strip_accents", out var sa) && sa.ValueKind is JsonValueKind.True or JsonValueKind.False
                    ? sa.ValueKind == JsonValueKind.True
                    : lowercase;
                return new BertNormalizer(Bool(n, "clean_text", true), Bool(n, "handle_chinese_chars", true), strip, lowercase);
            case "Lowercase":
                return new LowercaseNormalizer();
            case "NFD":
                return new NfdNormalizer();
            case "NFKD":
                return new UnicodeNormalizer(compatibility: true, compose: false);
            case "NFC":
                return new UnicodeNormalizer(compatibility: false, compose: true);
            case "NFKC":
                return new UnicodeNormalizer(compatibility: true, compose: true);
            case "Precompiled":
            {
                var charsmap = Str(n, "precompiled_charsmap");
                if (string.IsNullOrEmpty(charsmap))
                    throw new TokenizerException($"{path}: the Precompiled normalizer has no precompiled_charsmap.");
                byte[] blob;
                try
                {
                    blob = Convert.FromBase64String(charsmap);
                }
                catch (FormatException e)
                {
                    throw new TokenizerException($"{path}: the Precompiled normalizer's precompiled_charsmap is not base64 ({e.Message}).", e);
                }

                return new PrecompiledNormalizer(PrecompiledCharsMap.Parse(blob, path));
            }

            case "Replace":
                return new ReplaceNormalizer(ParsePattern(path, n, "the Replace normalizer"), Str(n, "content") ?? "");
            case "Strip":
                return new StripNormalizer(Bool(n, "strip_left", true), Bool(n, "strip_right", true));
            case "Sequence":
                return new SequenceNormalizer(n.GetProperty("normalizers").EnumerateArray().Select(x => ParseNormalizer(path, x)!).ToList());
            default:
                throw new TokenizerException($"{path}: normalizer type '{type}' is not supported (BertNormalizer, Lowercase, NFD, NFKD, NFC, NFKC, Precompiled, Replace, Strip, Sequence).");
        }
    }

    private static IPreTokenizer? ParsePreTokenizer(string path, JsonElement p)
    {
        if (p.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return null;
        var type = Str(p, "type");
        return type switch
        {
            "BertPreTokenizer" => new BertPreTokenizer(),
            "ByteLevel" => new ByteLevelPreTokenizer(Bool(p, "add_prefix_space", true), Bool(p, "use_regex", true)),
            "Metaspace" => new MetaspacePreTokenizer(SingleChar(path, p, "replacement", "Metaspace", 0x2581), ParsePrependScheme(path, p), Bool(p, "split", true)),
            "WhitespaceSplit" => new WhitespaceSplitPreTokenizer(),
            "Sequence" => new SequencePreTokenizer(p.GetProperty("pretokenizers").EnumerateArray()
                .Select(x => ParsePreTokenizer(path, x) ?? throw new TokenizerException($"{path}: a Sequence pre_tokenizer holds null.")).ToList()),
            _ => throw new TokenizerException($"{path}: pre_tokenizer type '{type}' is not supported (BertPreTokenizer, ByteLevel, Metaspace, WhitespaceSplit, Sequence)."),
        };
    }

    private static void CheckBpeOptions(string path, JsonElement model)
    {
        if (model.TryGetProperty("dropout", out var d) && d.ValueKind == JsonValueKind.Number && d.GetDouble() > 0)
            throw new TokenizerException($"{path}: BPE dropout is not supported.");
        foreach (var name in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (!string.IsNullOrEmpty(Str(model, name)))
                throw new TokenizerException($"{path}: BPE '{name}' is not supported with byte-level BPE.");
        foreach (var name in new[] { "fuse_unk", "byte_fallback" })
            if (Bool(model, name, false))
                throw new TokenizerException($"{path}: BPE '{name}' is not supported.");
    }

    private static Dictionary<string, int> ReadVocabObject(string path, JsonElement model)
    {
        if (!model.TryGetProperty("vocab", out var v) || v.ValueKind != JsonValueKind.Object)
            throw new TokenizerException($"{path}: the model's 'vocab' is missing or not an object.");
        return ReadVocab(path, v);
    }

    /// <summary>A token → id object (tokenizer.json's WordPiece or BPE vocab, vocab.json): ids checked, each token once.</summary>
    private static Dictionary<string, int> ReadVocab(string path, JsonElement v)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var kv in v.EnumerateObject())
        {
            if (!vocab.TryAdd(kv.Name, Id(path, kv.Value, $"the token '{Shorten(kv.Name)}'")))
                throw new TokenizerException($"{path}: the token '{Shorten(kv.Name)}' appears twice in the vocabulary (ids {vocab[kv.Name]} and {Shorten(kv.Value.GetRawText())}).");
        }
        CheckDense(path, vocab);
        return vocab;
    }

    private static List<(string, string)> ReadMergesJson(string path, JsonElement model)
    {
        if (!model.TryGetProperty("merges", out var ms) || ms.ValueKind != JsonValueKind.Array)
            throw new TokenizerException($"{path}: the BPE model's 'merges' is missing.");
        var merges = new List<(string, string)>();
        foreach (var m in ms.EnumerateArray())
        {
            if (m.ValueKind == JsonValueKind.String)
            {
                var s = m.GetString()!;
                var parts = s.Split(' ');
                if (parts.Length != 2) throw new TokenizerException($"{path}: merge '{s}' is not two tokens separated by a space.");
                merges.Add((parts[0], parts[1]));
            }
            else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2 && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
            {
                merges.Add((m[0].GetString()!, m[1].GetString()!));
            }
            else
            {
                throw new TokenizerException($"{path}: a merges entry is neither \"a b\" nor [a, b].");
            }
        }

        return merges;
    }

    private static IPostProcessor ParsePostProcessor(string path, JsonElement p, ITokenizerModel model, List<AddedToken> added)
    {
        if (p.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
            return new TemplateProcessor([new TemplatePiece(true, 0, [], [], 0)],
                [new TemplatePiece(true, 0, [], [], 0), new TemplatePiece(true, 1, [], [], 1)]);
        var type = Str(p, "type");
        switch (type)
        {
            case "TemplateProcessing":
            {
                var specials = new Dictionary<string, (string[] Tokens, int[] Ids)>();
                if (p.TryGetProperty("special_tokens", out var sts))
                    foreach (var kv in sts.EnumerateObject())
                    {
                        var tokens = kv.Value.GetProperty("tokens").EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString()!
                            : throw new TokenizerException($"{path}: TemplateProcessing special token '{Shorten(kv.Name)}' lists a token that is not a string.")).ToArray();
                        var ids = kv.Value.GetProperty("ids").EnumerateArray().Select(x => Id(path, x, $"TemplateProcessing special token '{Shorten(kv.Name)}'")).ToArray();
                        if (tokens.Length != ids.Length)
                            throw new TokenizerException($"{path}: TemplateProcessing special token '{Shorten(kv.Name)}' has {tokens.Length} tokens but {ids.Length} ids.");
                        specials[kv.Name] = (tokens, ids);
                    }
                int TypeId(JsonElement piece) => piece.GetProperty("type_id") is var t && t.TryGetInt32(out var type) && type >= 0
                    ? type
                    : throw new TokenizerException($"{path}: a TemplateProcessing type_id {Shorten(t.GetRawText())} is not a non-negative integer.");
                List<TemplatePiece> Parse(JsonElement arr) => arr.EnumerateArray().Select(item =>
                {
                    if (item.TryGetProperty("Sequence", out var s))
                    {
                        var id = Str(s, "id");
                        return new TemplatePiece(true, id == "B" ? 1 : 0, [], [], TypeId(s));
                    }

                    var sp = item.GetProperty("SpecialToken");
                    var name = Str(sp, "id")!;
                    if (!specials.TryGetValue(name, out var st))
                        throw new TokenizerException($"{path}: TemplateProcessing uses special token '{name}' missing from its special_tokens.");
                    return new TemplatePiece(false, 0, st.Tokens, st.Ids, TypeId(sp));
                }).ToList();
                return new TemplateProcessor(Parse(p.GetProperty("single")), Parse(p.GetProperty("pair")));
            }

            case "BertProcessing":
            {
                var sep = p.GetProperty("sep");
                var cls = p.GetProperty("cls");
                var (sepToken, sepId) = TokenAndId(path, sep, "BertProcessing sep");
                var (clsToken, clsId) = TokenAndId(path, cls, "BertProcessing cls");
                var sepPiece0 = new TemplatePiece(false, 0, [sepToken], [sepId], 0);
                var sepPiece1 = sepPiece0 with { TypeId = 1 };
                var clsPiece = new TemplatePiece(false, 0, [clsToken], [clsId], 0);
                return new TemplateProcessor([clsPiece, new TemplatePiece(true, 0, [], [], 0), sepPiece0],
                    [clsPiece, new TemplatePiece(true, 0, [], [], 0), sepPiece0, new TemplatePiece(true, 1, [], [], 1), sepPiece1]);
            }

            case "RobertaProcessing":
            {
                var sep = p.GetProperty("sep");
                var cls = p.GetProperty("cls");
                var (sepToken, sepId) = TokenAndId(path, sep, "RobertaProcessing sep");
                var (clsToken, clsId) = TokenAndId(path, cls, "RobertaProcessing cls");
                return new RobertaProcessor(sepToken, sepId, clsToken, clsId, Bool(p, "trim_offsets", true), Bool(p, "add_prefix_space", true));
            }

            default:
                throw new TokenizerException($"{path}: post_processor type '{type}' is not supported (TemplateProcessing, BertProcessing, RobertaProcessing).");
        }
    }

    /// <summary>A post-processor's <c>["token", id]</c> pair.</summary>
    private static (string Token, int Id) TokenAndId(string path, JsonElement pair, string what)
    {
        if (pair.ValueKind != JsonValueKind.Array || pair.GetArrayLength() != 2 || pair[0].ValueKind != JsonValueKind.String)
            throw new TokenizerException($"{path}: {what} is not a [\"token\", id] pair.");
        return (pair[0].GetString()!, Id(path, pair[1], what));
    }

    // ---------------------------------------------------------------- vocab.txt (BERT)

    private static Built FromVocabTxt(string folder, JsonElement? config, JsonElement? specialMap)
    {
        var path = Path.Combine(folder, "vocab.txt");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        var text = ModelFile.ReadAllText(path, ModelFile.MaxVocabularyBytes, Fail(path));
        var lines = text.Split(["\r\n", "\r", "\n"], StringSplitOptions.None);
        var count = lines.Length;
        if (count > 0 && lines[^1].Length == 0) count--;
        // A token listed twice keeps its last line, as HF's WordPiece.from_file and BertTokenizer read it (its first id stays unused).
        for (var i = 0; i < count; i++) vocab[lines[i]] = i;

        var lower = Flag(config, "do_lower_case") ?? true;
        var strip = Flag(config, "strip_accents") ?? lower;
        var chinese = Flag(config, "tokenize_chinese_chars") ?? true;
        var normalizer = new BertNormalizer(true, chinese, strip, lower);
        var unk = SpecialToken(config, specialMap, "unk_token") ?? "[UNK]";
        var model = new WordPieceModel(vocab, unk, "##", 100, path);

        var cls = SpecialToken(config, specialMap, "cls_token") ?? "[CLS]";
        var sep = SpecialToken(config, specialMap, "sep_token") ?? "[SEP]";
        var clsId = model.TokenToId(cls) ?? throw new TokenizerException($"{path}: cls_token '{cls}' is not in the vocabulary.");
        var sepId = model.TokenToId(sep) ?? throw new TokenizerException($"{path}: sep_token '{sep}' is not in the vocabulary.");
        var clsPiece = new TemplatePiece(false, 0, [cls], [clsId], 0);
        var sep0 = new TemplatePiece(false, 0, [sep], [sepId], 0);
        // transformers' MPNetConverter: "<s> A </s> </s> B </s>" (two separators between the texts), <mask> strips left.
        var mpnet = TokenContent(config, "tokenizer_class") is "MPNetTokenizer" or "MPNetTokenizerFast";
        List<TemplatePiece> pair = [clsPiece, new TemplatePiece(true, 0, [], [], 0), sep0];
        if (mpnet) pair.Add(sep0);
        pair.AddRange([new TemplatePiece(true, 1, [], [], 1), sep0 with { TypeId = 1 }]);
        var post = new TemplateProcessor([clsPiece, new TemplatePiece(true, 0, [], [], 0), sep0], pair);

        var added = SpecialAddedTokens(Path.Combine(folder, "tokenizer_config.json"), config, specialMap, model, lstripMask: mpnet);
        return new Built(normalizer, new BertPreTokenizer(), model, post, new AddedVocabulary(added, normalizer),
            new WordPieceDecoder("##", true), TokenizerKind.WordPiece, null, null);
    }

    // ---------------------------------------------------------------- vocab.json + merges.txt (RoBERTa / GPT-2)

    private static Built FromVocabJsonMerges(string folder, JsonElement? config, JsonElement? specialMap)
    {
        var vocabPath = Path.Combine(folder, "vocab.json");
        var mergesPath = Path.Combine(folder, "merges.txt");
        var vocabRoot = ReadJson(vocabPath, ModelFile.MaxVocabularyBytes)!.Value;
        if (vocabRoot.ValueKind != JsonValueKind.Object) throw new TokenizerException($"{vocabPath}: expected a JSON object token -> id.");
        var vocab = ReadVocab(vocabPath, vocabRoot);

        // transformers' slow GPT-2/RoBERTa tokenizer: skip a leading "#version:" line and empty lines, split on whitespace.
        var lines = ModelFile.ReadAllText(mergesPath, ModelFile.MaxVocabularyBytes, Fail(mergesPath)).Split('\n');
        var merges = new List<(string, string)>();
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if ((i == 0 && line.StartsWith("#version:", StringComparison.Ordinal)) || line.Length == 0) continue;
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2) throw new TokenizerException($"{mergesPath}: line {i + 1} is not two tokens.");
            merges.Add((parts[0], parts[1]));
        }

        var model = new ByteLevelBpeModel(vocab, merges, false, mergesPath);
        var addPrefixSpace = Flag(config, "add_prefix_space") ?? false;
        var trimOffsets = Flag(config, "trim_offsets") ?? true;
        var cls = SpecialToken(config, specialMap, "cls_token") ?? "<s>";
        var sep = SpecialToken(config, specialMap, "sep_token") ?? "</s>";
        var clsId = model.TokenToId(cls) ?? throw new TokenizerException($"{vocabPath}: cls_token '{cls}' is not in the vocabulary.");
        var sepId = model.TokenToId(sep) ?? throw new TokenizerException($"{vocabPath}: sep_token '{sep}' is not in the vocabulary.");
        var post = new RobertaProcessor(sep, sepId, cls, clsId, trimOffsets, addPrefixSpace);
        var added = SpecialAddedTokens(Path.Combine(folder, "tokenizer_config.json"), config, specialMap, model, lstripMask: true);
        return new Built(null, new ByteLevelPreTokenizer(addPrefixSpace, true), model, post, new AddedVocabulary(added, null),
            new ByteLevelDecoder(), TokenizerKind.ByteLevelBpe, null, null);
    }

    /// <summary>
    /// The special tokens transformers adds to a converted slow tokenizer: added_tokens_decoder entries, then the
    /// named special tokens (normalized false; a RoBERTa mask given as a plain string strips left).
    /// </summary>
    private static List<AddedToken> SpecialAddedTokens(string configPath, JsonElement? config, JsonElement? specialMap, ITokenizerModel model, bool lstripMask)
    {
        var result = new List<AddedToken>();
        var nextId = model.VocabSize;

        void Add(string content, int? id, bool single, bool l, bool r, bool normalized, bool special)
        {
            if (content.Length == 0 || result.Any(t => t.Content == content)) return;
            var tokenId = id ?? model.TokenToId(content) ?? nextId++;
            result.Add(new AddedToken(content, tokenId, single, l, r, normalized, special));
        }

        if (config?.TryGetProperty("added_tokens_decoder", out var dec) == true && dec.ValueKind == JsonValueKind.Object)
        {
            foreach (var kv in dec.EnumerateObject())
            {
                var t = kv.Value;
                if (t.ValueKind != JsonValueKind.Object) continue;
                var special = Bool(t, "special", false);
                if (!int.TryParse(kv.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id))
                    throw new TokenizerException($"{configPath}: added_tokens_decoder key '{Shorten(kv.Name)}' is not a token id (an integer in 0..{int.MaxValue}).");
                Add(Str(t, "content") ?? "", id, Bool(t, "single_word", false),
                    Bool(t, "lstrip", false), Bool(t, "rstrip", false), Bool(t, "normalized", !special), special);
            }
        }

        foreach (var name in SpecialTokenAttributes)
        {
            var obj = TokenObject(config, name) ?? TokenObject(specialMap, name);
            if (obj is { } o)
            {
                Add(Str(o, "content") ?? "", null, Bool(o, "single_word", false), Bool(o, "lstrip", false), Bool(o, "rstrip", false),
                    Bool(o, "normalized", false), true);
                continue;
            }

            var content = SpecialToken(config, specialMap, name);
            if (content == null) continue;
            if (model.TokenToId(content) == null && name != "mask_token") continue;
            Add(content, null, false, lstripMask && name == "mask_token", false, false, true);
        }

        return result;
    }

    private static JsonElement? TokenObject(JsonElement? root, string name) =>
        root is { ValueKind: JsonValueKind.Object } r && r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object ? v : null;
}

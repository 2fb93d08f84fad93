using System.Text.Json;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.Search;

namespace TransformerEmbeddings.SentenceTransformers;

/// <summary>What a sentence-transformers folder describes: modules.json and the files it points to.</summary>
internal sealed class SentenceTransformersFolder
{
    public const string TransformerType = "sentence_transformers.models.Transformer";
    public const string PoolingType = "sentence_transformers.models.Pooling";
    public const string DenseType = "sentence_transformers.models.Dense";
    public const string NormalizeType = "sentence_transformers.models.Normalize";

    private static readonly string[] Supported = [TransformerType, PoolingType, DenseType, NormalizeType];

    public required string TransformerFolder { get; init; }
    public int? MaxSeqLength { get; init; }
    public bool DoLowerCase { get; init; }
    public required PoolingStrategy Pooling { get; init; }
    public int? WordEmbeddingDimension { get; init; }
    public bool IncludePrompt { get; init; } = true;

    /// <summary>The modules after pooling, in order: a Dense folder, or null for Normalize.</summary>
    public required IReadOnlyList<string?> AfterPooling { get; init; }

    public IReadOnlyDictionary<string, string> Prompts { get; init; } = new Dictionary<string, string>();
    public string? DefaultPromptName { get; init; }
    public int? TruncateDim { get; init; }
    public SimilarityFunction Similarity { get; init; } = SimilarityFunction.Cosine;

    public static bool IsSentenceTransformers(string folder)
    {
        var modules = Path.Combine(folder, "modules.json");
        return ModelFile.Exists(modules, (message, inner) => new ModelConfigurationException(modules, null, message, inner));
    }

    public static SentenceTransformersFolder Read(string folder)
    {
        var modulesPath = Path.Combine(folder, "modules.json");
        using var modules = Parse(modulesPath);
        if (modules.RootElement.ValueKind != JsonValueKind.Array)
            throw new ModelConfigurationException(modulesPath, null, "Expected a JSON array of modules.");
        var list = new List<(string Type, string Path, string Name)>();
        foreach (var m in modules.RootElement.EnumerateArray())
        {
            if (m.ValueKind != JsonValueKind.Object)
                throw new ModelConfigurationException(modulesPath, null, $"Module {list.Count} is {m.ValueKind}, not an object with type and path.");
            var type = String(m, "type", modulesPath) ?? throw new ModelConfigurationException(modulesPath, "type", "A module has no type.");
            var path = String(m, "path", modulesPath) ?? "";
            var name = String(m, "name", modulesPath) ?? path;
            if (!Supported.Contains(type))
                throw new ModelConfigurationException(modulesPath, "type",
                    $"Module '{name}' has type '{type}', which is not supported; supported module types: {string.Join(", ", Supported)}.");
            // The path is the file's: it must not lead the loader out of the folder.
            path = ModelFile.Inside(folder, path, (message, inner) => new ModelConfigurationException(modulesPath, "path", $"Module '{name}': {message}", inner));
            list.Add((type, path, name));
        }
        if (list.Count < 2 || list[0].Type != TransformerType || list[1].Type != PoolingType)
            throw new ModelConfigurationException(modulesPath, null,
                $"Expected a {TransformerType} module followed by a {PoolingType} module; found {string.Join(", ", list.Select(l => l.Type))}.");
        if (list.Skip(2).Any(l => l.Type is TransformerType or PoolingType))
            throw new ModelConfigurationException(modulesPath, "type", "Only Dense and Normalize modules may follow the Pooling module.");

        var transformerFolder = list[0].Path;
        if (!Directory.Exists(transformerFolder))
            throw new ModelConfigurationException(modulesPath, "path", $"The Transformer module's folder '{transformerFolder}' does not exist (or is a link that cannot be followed).");
        int? maxSeq = null;
        var lower = false;
        var sbert = Path.Combine(transformerFolder, "sentence_bert_config.json");
        if (ModelFile.Exists(sbert, Fail(sbert)))
        {
            using var doc = Parse(sbert);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ModelConfigurationException(sbert, null, $"Expected a JSON object; found {doc.RootElement.ValueKind}.");
            maxSeq = Int(doc.RootElement, "max_seq_length", sbert);
            lower = Bool(doc.RootElement, "do_lower_case", sbert) ?? false;
            if (maxSeq is < 2) throw new ModelConfigurationException(sbert, "max_seq_length", $"Must be at least 2 (room for the special tokens); found {maxSeq}.");
        }

        var (pooling, dim, includePrompt) = ReadPooling(Path.Combine(list[1].Path, "config.json"));
        if (dim is <= 0) throw new ModelConfigurationException(Path.Combine(list[1].Path, "config.json"), "word_embedding_dimension", $"Must be positive; found {dim}.");
        var after = list.Skip(2).Select(l => l.Type == DenseType ? l.Path : null).ToList();

        var prompts = new Dictionary<string, string>(StringComparer.Ordinal);
        string? defaultPrompt = null;
        int? truncateDim = null;
        var similarity = SimilarityFunction.Cosine;
        var stConfig = Path.Combine(folder, "config_sentence_transformers.json");
        if (ModelFile.Exists(stConfig, Fail(stConfig)))
        {
            using var doc = Parse(stConfig);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new ModelConfigurationException(stConfig, null, $"Expected a JSON object; found {root.ValueKind}.");
            if (root.TryGetProperty("prompts", out var p) && p.ValueKind == JsonValueKind.Object)
            {
                foreach (var kv in p.EnumerateObject())
                {
                    if (kv.Value.ValueKind != JsonValueKind.String)
                        throw new ModelConfigurationException(stConfig, $"prompts.{kv.Name}", $"Expected a string; found {kv.Value.ValueKind}.");
                    prompts[kv.Name] = kv.Value.GetString()!;
                }
            }
            defaultPrompt = String(root, "default_prompt_name", stConfig);
            if (defaultPrompt is not null && !prompts.ContainsKey(defaultPrompt))
                throw new ModelConfigurationException(stConfig, "default_prompt_name",
                    $"'{defaultPrompt}' is not one of the prompts ({string.Join(", ", prompts.Keys)}).");
            truncateDim = Int(root, "truncate_dim", stConfig);
            if (truncateDim is <= 0) throw new ModelConfigurationException(stConfig, "truncate_dim", $"Must be positive; found {truncateDim}.");
            if (String(root, "similarity_fn_name", stConfig) is { } fn)
            {
                similarity = SimilarityFunctions.TryParse(fn, out var f)
                    ? f
                    : throw new ModelConfigurationException(stConfig, "similarity_fn_name",
                        $"'{fn}' is not a known similarity; expected one of {string.Join(", ", SimilarityFunctions.Names)}.");
            }
        }

        return new SentenceTransformersFolder
        {
            TransformerFolder = transformerFolder,
            MaxSeqLength = maxSeq,
            DoLowerCase = lower,
            Pooling = pooling,
            WordEmbeddingDimension = dim,
            IncludePrompt = includePrompt,
            AfterPooling = after,
            Prompts = prompts,
            DefaultPromptName = defaultPrompt,
            TruncateDim = truncateDim,
            Similarity = similarity,
        };
    }

    /// <summary>Reads <c>1_Pooling/config.json</c>: the boolean keys, or the legacy <c>pooling_mode</c> string; order as sentence-transformers concatenates.</summary>
    internal static (PoolingStrategy Strategy, int? Dimension, bool IncludePrompt) ReadPooling(string path)
    {
        using var doc = Parse(path);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new ModelConfigurationException(path, null, $"Expected a JSON object; found {root.ValueKind}.");
        var flags = new (string Key, TokenPooling Mode)[]
        {
            ("pooling_mode_cls_token", TokenPooling.Cls),
            ("pooling_mode_max_tokens", TokenPooling.Max),
            ("pooling_mode_mean_tokens", TokenPooling.Mean),
            ("pooling_mode_mean_sqrt_len_tokens", TokenPooling.MeanSqrtLength),
            ("pooling_mode_weightedmean_tokens", TokenPooling.WeightedMean),
            ("pooling_mode_lasttoken", TokenPooling.LastToken),
        };
        var on = new HashSet<TokenPooling>();
        var legacy = root.TryGetProperty("pooling_mode", out var pm) && pm.ValueKind != JsonValueKind.Null;
        if (legacy)
        {
            var names = pm.ValueKind switch
            {
                JsonValueKind.String => [pm.GetString()!],
                JsonValueKind.Array => pm.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String
                    ? e.GetString()!
                    : throw new ModelConfigurationException(path, "pooling_mode", $"Expected strings; found {e.ValueKind}.")).ToArray(),
                _ => throw new ModelConfigurationException(path, "pooling_mode", $"Expected a string; found {pm.ValueKind}."),
            };
            foreach (var n in names)
            {
                if (!PoolingStrategy.TryParse(n, out var s))
                    throw new ModelConfigurationException(path, "pooling_mode",
                        $"Unknown pooling mode '{n}'; expected one of {string.Join(", ", PoolingStrategy.SupportedNames)}.");
                on.UnionWith(s.Modes);
            }
        }
        else
        {
            foreach (var (key, mode) in flags)
            {
                if (Bool(root, key, path) == true) on.Add(mode);
            }
        }
        if (on.Count == 0)
            throw new ModelConfigurationException(path, null, "No pooling mode is enabled (pooling_mode_* keys are all false or missing).");
        var ordered = flags.Select(f => f.Mode).Where(on.Contains).ToArray();
        var dim = Int(root, "word_embedding_dimension", path);
        var includePrompt = Bool(root, "include_prompt", path) ?? true;
        return (new PoolingStrategy(ordered), dim, includePrompt);
    }

    private static ModelFile.Failure Fail(string path) => (message, inner) => new ModelConfigurationException(path, null, message, inner);

    internal static JsonDocument Parse(string path)
    {
        if (!ModelFile.Exists(path, Fail(path))) throw new ModelConfigurationException(path, null, "The file is missing.");
        var bytes = ModelFile.ReadAllBytes(path, ModelFile.MaxSettingsBytes, Fail(path));
        if (bytes.AsSpan().Trim(" \t\r\n"u8).IsEmpty) throw new ModelConfigurationException(path, null, "The file is empty; it should hold JSON.");
        // JsonDocument checks UTF-8 inside strings only when one is read, and then throws InvalidOperationException.
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new ModelConfigurationException(path, null, "The file is not valid UTF-8 text; JSON settings must be UTF-8.");
        try
        {
            return JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new ModelConfigurationException(path, null, $"Not valid JSON: {e.Message}", e);
        }
    }

    internal static string? String(JsonElement e, string key, string path)
    {
        if (!e.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw new ModelConfigurationException(path, key, $"Expected a string; found {v.ValueKind}.");
    }

    /// <summary>A value quoted in a message, cut short when a hostile file makes it long.</summary>
    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";

    internal static int? Int(JsonElement e, string key, string path)
    {
        if (!e.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw new ModelConfigurationException(path, key, $"Expected a 32-bit integer; found {Shorten(v.GetRawText())}.");
    }

    internal static bool? Bool(JsonElement e, string key, string path)
    {
        if (!e.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ModelConfigurationException(path, key, $"Expected true or false; found {Shorten(v.GetRawText())}."),
        };
    }
}

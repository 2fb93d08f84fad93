using System.Text.Json;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.SentenceTransformers;

namespace TransformerEmbeddings.Hub;

/// <summary>
/// Which files of a repository a model needs, and whether a cached snapshot has them. A model folder needs config.json,
/// its tokenizer files and <c>model.safetensors</c> (or its index and shards); a sentence-transformers repository adds
/// modules.json, its settings and the module folders modules.json names. Weights in other formats (<c>.bin</c>,
/// <c>.h5</c>, <c>.onnx</c>, …) are never fetched: this library reads safetensors only.
/// </summary>
internal static class ModelFiles
{
    public const string Weights = "model.safetensors";
    public const string WeightsIndex = "model.safetensors.index.json";
    public const string Modules = "modules.json";

    /// <summary>Files a model folder may hold that loading reads, besides the weights.</summary>
    public static readonly string[] FolderFiles =
    [
        "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
        "vocab.txt", "vocab.json", "merges.txt", "sentence_bert_config.json",
    ];

    /// <summary>sentence-transformers files at the repository root.</summary>
    public static readonly string[] RootFiles = [Modules, "config_sentence_transformers.json"];

    private static readonly string[] NeverFetched =
        [".bin", ".h5", ".onnx", ".onnx_data", ".msgpack", ".ot", ".pt", ".pth", ".ckpt", ".pkl", ".gguf", ".tflite", ".mlmodel", ".npz", ".joblib"];

    /// <summary>The files to fetch, and the known files the repository lacks (recorded in <c>.no_exist</c> so later loads need not ask).</summary>
    /// <param name="id">The model, for messages.</param>
    /// <param name="repoFiles">Every file of the repository at the commit.</param>
    /// <param name="read">Fetches one file (modules.json, a weights index) and returns its local path.</param>
    public static async Task<(IReadOnlyList<string> Needed, IReadOnlyList<string> Absent)> SelectAsync(
        ModelId id, IReadOnlyCollection<string> repoFiles, Func<string, Task<string>> read)
    {
        var has = repoFiles.ToHashSet(StringComparer.Ordinal);
        var needed = new List<string>();
        var absent = new List<string>();
        foreach (var f in RootFiles) (has.Contains(f) ? needed : absent).Add(f);

        var modules = has.Contains(Modules) ? ReadModules(await read(Modules).ConfigureAwait(false)) : [("", SentenceTransformersFolder.TransformerType)];
        foreach (var (path, type) in modules)
        {
            var prefix = path.Length == 0 ? "" : path.TrimEnd('/') + "/";
            if (type == SentenceTransformersFolder.TransformerType)
            {
                foreach (var f in FolderFiles) (has.Contains(prefix + f) ? needed : absent).Add(prefix + f);
                if (has.Contains(prefix + Weights))
                    needed.Add(prefix + Weights);
                else if (has.Contains(prefix + WeightsIndex))
                {
                    needed.Add(prefix + WeightsIndex);
                    needed.AddRange(ReadShards(await read(prefix + WeightsIndex).ConfigureAwait(false)).Select(s => prefix + s));
                }
                else
                    throw NoWeights(id, prefix, has);
            }
            else if (prefix.Length > 0)
            {
                // Pooling, Dense, Normalize and the like: their folder holds their settings and weights.
                needed.AddRange(has.Where(f => f.StartsWith(prefix, StringComparison.Ordinal) && IsFetched(f)).Order(StringComparer.Ordinal));
            }
        }
        return (needed.Distinct().ToList(), absent.Distinct().Where(a => !has.Contains(a)).ToList());
    }

    /// <summary>
    /// The first file a snapshot lacks for loading, or null when it has all. <paramref name="strict"/> also asks that each
    /// optional file be there or recorded as absent (<c>.no_exist</c>): then the snapshot is as whole as a download makes it.
    /// </summary>
    public static string? FirstMissing(string snapshot, Func<string, bool> recordedAbsent, bool strict)
    {
        bool Has(string file) => HubCache.IsPresent(Path.Combine(snapshot, HubCache.Local(file)));
        bool Known(string file) => Has(file) || recordedAbsent(file);

        if (strict && RootFiles.FirstOrDefault(f => !Known(f)) is { } root) return root;
        IReadOnlyList<(string Path, string Type)> modules;
        try
        {
            modules = Has(Modules) ? ReadModules(Path.Combine(snapshot, Modules)) : [("", SentenceTransformersFolder.TransformerType)];
        }
        catch (ModelConfigurationException)
        {
            return null;   // the loader reports a malformed modules.json with its own message
        }
        foreach (var (path, type) in modules)
        {
            var prefix = path.Length == 0 ? "" : path.TrimEnd('/') + "/";
            switch (type)
            {
                case SentenceTransformersFolder.TransformerType:
                    if (!Has(prefix + "config.json")) return prefix + "config.json";
                    if (!Has(prefix + Weights))
                    {
                        if (!Has(prefix + WeightsIndex)) return prefix + Weights;
                        string[] shards;
                        try
                        {
                            shards = ReadShards(Path.Combine(snapshot, HubCache.Local(prefix + WeightsIndex)));
                        }
                        catch (ModelConfigurationException)
                        {
                            return null;
                        }
                        if (shards.FirstOrDefault(s => !Has(prefix + s)) is { } shard) return prefix + shard;
                    }
                    if (!Has(prefix + "tokenizer.json") && !Has(prefix + "vocab.txt") && !(Has(prefix + "vocab.json") && Has(prefix + "merges.txt")))
                        return prefix + "tokenizer.json";
                    if (strict && FolderFiles.FirstOrDefault(f => !Known(prefix + f)) is { } optional) return prefix + optional;
                    break;
                case SentenceTransformersFolder.PoolingType when prefix.Length > 0:
                    if (!Has(prefix + "config.json")) return prefix + "config.json";
                    break;
                case SentenceTransformersFolder.DenseType when prefix.Length > 0:
                    if (!Has(prefix + "config.json")) return prefix + "config.json";
                    if (!Has(prefix + Weights)) return prefix + Weights;
                    break;
            }
        }
        return null;
    }

    private static bool IsFetched(string file) => !NeverFetched.Any(e => file.EndsWith(e, StringComparison.OrdinalIgnoreCase));

    private static HubException NoWeights(ModelId id, string prefix, HashSet<string> has)
    {
        var others = has.Where(f => f.StartsWith(prefix, StringComparison.Ordinal) && !IsFetched(f)).Order(StringComparer.Ordinal).ToList();
        return new HubException(HubErrorKind.NoSafetensorsWeights, id.ToString(), prefix + Weights,
            $"Model '{id.Repository}' has no {prefix}{Weights} (nor {prefix}{WeightsIndex}){(others.Count > 0 ? $"; it has {string.Join(", ", others)}" : "")}. " +
            "TransformerEmbeddings reads safetensors weights only: pick a revision that has them (the Hub's safetensors conversions " +
            "are pull requests, revision refs/pr/N), or convert the weights with Python's safetensors and load the folder.");
    }

    private static List<(string Path, string Type)> ReadModules(string path)
    {
        using var doc = SentenceTransformersFolder.Parse(path);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
            throw new ModelConfigurationException(path, null, "Expected a JSON array of modules.");
        return doc.RootElement.EnumerateArray()
            .Where(m => m.ValueKind == JsonValueKind.Object)
            .Select(m => (SentenceTransformersFolder.String(m, "path", path) ?? "", SentenceTransformersFolder.String(m, "type", path) ?? ""))
            .ToList();
    }

    private static string[] ReadShards(string indexPath)
    {
        using var doc = SentenceTransformersFolder.Parse(indexPath);
        if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            throw new ModelConfigurationException(indexPath, "weight_map", "Expected an object mapping tensor names to shard files.");
        return map.EnumerateObject()
            .Select(p => p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : throw new ModelConfigurationException(indexPath, "weight_map", $"'{p.Name}' maps to {p.Value.ValueKind}, not a file name."))
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
    }
}

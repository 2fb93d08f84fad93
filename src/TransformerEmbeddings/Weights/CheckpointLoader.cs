using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using TransformerEmbeddings.Configuration;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Weights;

/// <summary>
/// How HF lays out a family's checkpoints: the base model's key prefix in a <c>*ForMaskedLM</c> (or other head)
/// checkpoint (<c>base_model_prefix</c>), the roots of the MLM head that sits beside it, and the head's keys that are
/// tied to other parameters (save_pretrained omits them; when a file still holds them they are not read).
/// </summary>
/// <param name="BasePrefix">bert, roberta (also XLM-R and CamemBERT), distilbert, mpnet.</param>
/// <param name="HeadRoots">Where the MLM head's modules live, beside the base model.</param>
/// <param name="TiedKeys">Head keys that are copies: decoders tied to the word embeddings, decoder biases tied to the head's bias.</param>
internal sealed record CheckpointLayout(string BasePrefix, IReadOnlyList<string> HeadRoots, IReadOnlyList<string> TiedKeys)
{
    /// <summary>A module's own folder (sentence-transformers' <c>Dense</c>): no base model, no head, keys as written.</summary>
    public static CheckpointLayout Module { get; } = new("", [], []);

    public static CheckpointLayout For(ModelArchitecture architecture) => architecture switch
    {
        ModelArchitecture.Bert => new("bert", ["cls.predictions"], ["cls.predictions.decoder.weight", "cls.predictions.decoder.bias"]),
        ModelArchitecture.Roberta => new("roberta", ["lm_head"], ["lm_head.decoder.weight", "lm_head.decoder.bias"]),
        ModelArchitecture.DistilBert => new("distilbert", ["vocab_transform", "vocab_layer_norm", "vocab_projector"], ["vocab_projector.weight"]),
        ModelArchitecture.MPNet => new("mpnet", ["lm_head"], ["lm_head.decoder.weight", "lm_head.decoder.bias"]),
        _ => throw new ArgumentOutOfRangeException(nameof(architecture), architecture, null),
    };
}

/// <summary>
/// The one place where checkpoint keys meet HF module names: it opens a single file or the shards of an index,
/// strips the base model's prefix (<c>bert.</c>, <c>roberta.</c>, <c>distilbert.</c>, <c>mpnet.</c>: any prefix before
/// <c>embeddings.word_embeddings.weight</c>), maps legacy <c>gamma</c>/<c>beta</c>, leaves tied head copies unread
/// (<see cref="CheckpointLayout"/>), converts dtypes, checks shapes, and reports what it did not use. Modules ask for
/// weights by their HF path (<see cref="Modeling.WeightPath"/>).
/// </summary>
internal sealed class CheckpointLoader : IDisposable
{
    private readonly List<SafeTensorsFile> files = [];
    private readonly Dictionary<string, (SafeTensorsFile File, SafeTensorInfo Info)> tensors = new(StringComparer.Ordinal);
    private readonly HashSet<string> used = new(StringComparer.Ordinal);
    private readonly Dictionary<(SafeTensorsFile, ScalarType), Tensor> mappings = [];
    private readonly string source;
    private readonly CheckpointLayout layout;
    private ScalarType dtype;
    private Device? device;
    private Dictionary<string, string>? nonFinite; // after CheckValues: what is wrong with each damaged tensor
    private bool usedLegacyNames;

    private CheckpointLoader(string source, CheckpointLayout layout)
    {
        this.source = source;
        this.layout = layout;
    }

    /// <summary>The detected key prefix, with its trailing dot, or empty.</summary>
    public string Prefix { get; private set; } = "";

    /// <summary>Opens the checkpoint of a model folder: <c>model.safetensors</c>, else <c>model.safetensors.index.json</c>.</summary>
    /// <param name="folder">The model folder.</param>
    /// <param name="dtype">The type the weights are converted to.</param>
    /// <param name="device">Where they go.</param>
    /// <param name="architecture">The family, for its key layout; null for a module folder such as sentence-transformers'
    /// <c>2_Dense</c>, whose keys are taken as written.</param>
    public static CheckpointLoader Open(string folder, ScalarType dtype, Device device, ModelArchitecture? architecture) =>
        Open(folder, architecture).Into(dtype, device);

    /// <summary>Opens the checkpoint of a model folder without libtorch (headers and key layout only); say where its
    /// tensors go with <see cref="Into"/> before taking any.</summary>
    /// <param name="folder">The model folder.</param>
    /// <param name="architecture">The family, for its key layout; null for a module folder.</param>
    public static CheckpointLoader Open(string folder, ModelArchitecture? architecture)
    {
        var single = Path.Combine(folder, "model.safetensors");
        var index = Path.Combine(folder, "model.safetensors.index.json");
        var layout = architecture is { } family ? CheckpointLayout.For(family) : CheckpointLayout.Module;
        var hasSingle = ModelFile.Exists(single, Fail(single));
        var loader = new CheckpointLoader(hasSingle ? single : index, layout);
        try
        {
            if (hasSingle) loader.Add(SafeTensorsFile.Open(single));
            else if (ModelFile.Exists(index, Fail(index))) loader.OpenShards(folder, index);
            else
            {
                var hint = File.Exists(Path.Combine(folder, "pytorch_model.bin"))
                    ? " It holds pytorch_model.bin, a pickle file, which is not read for safety: convert it to safetensors."
                    : "";
                throw new WeightLoadingException(folder, null,
                    "no weights found: expected model.safetensors or model.safetensors.index.json." + hint);
            }
            loader.CheckOneDType();
            if (architecture is not null) loader.DetectPrefix();
            return loader;
        }
        catch
        {
            loader.Dispose();
            throw;
        }
    }

    private void OpenShards(string folder, string index)
    {
        Dictionary<string, string> map;
        var bytes = ModelFile.ReadAllBytes(index, ModelFile.MaxVocabularyBytes, Fail(index));
        // JsonDocument checks UTF-8 inside strings only when one is read (then InvalidOperationException).
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new WeightLoadingException(index, null, "the index is not valid UTF-8 text.");
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("weight_map", out var wm) || wm.ValueKind != JsonValueKind.Object)
                throw new WeightLoadingException(index, null, "the index has no 'weight_map' object.");
            map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in wm.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                    throw new WeightLoadingException(index, p.Name, $"the shard name must be a string, found {p.Value.ValueKind}.");
                if (!map.TryAdd(p.Name, p.Value.GetString()!))
                    throw new WeightLoadingException(index, p.Name, "the index names it twice.");
            }
        }
        catch (JsonException e)
        {
            throw new WeightLoadingException(index, null, "not valid JSON: " + e.Message, e);
        }

        if (map.Count == 0) throw new WeightLoadingException(index, null, "the index's weight_map is empty: it names no shard.");
        foreach (var shard in map.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var path = ModelFile.Inside(folder, shard, (message, inner) => new WeightLoadingException(index, null, $"shard '{shard}': {message}", inner));
            if (!ModelFile.Exists(path, Fail(path)))
                throw new WeightLoadingException(index, null, $"shard '{shard}' named by the index does not exist.");
            Add(SafeTensorsFile.Open(path));
        }

        foreach (var (name, shard) in map)
        {
            if (!tensors.TryGetValue(name, out var entry))
                throw new WeightLoadingException(index, name, $"the index places it in '{shard}', which does not hold it.");
            if (!string.Equals(Path.GetFileName(entry.File.FilePath), Path.GetFileName(shard), StringComparison.Ordinal))
                throw new WeightLoadingException(index, name, $"the index places it in '{shard}' but it is in '{Path.GetFileName(entry.File.FilePath)}'.");
        }
    }

    private void Add(SafeTensorsFile file)
    {
        files.Add(file);
        foreach (var info in file.Tensors)
        {
            if (!tensors.TryAdd(info.Name, (file, info)))
                throw new WeightLoadingException(file.FilePath, info.Name,
                    $"also present in '{tensors[info.Name].File.FilePath}'; a tensor must live in one shard.");
        }
    }

    private static ModelFile.Failure Fail(string path) => (message, inner) => new WeightLoadingException(path, null, message, inner);

    /// <summary>
    /// Shards of one checkpoint are saved in one floating-point dtype; shards that disagree were put together from
    /// different saves (a half-updated download, a copied file) and are refused rather than mixed.
    /// </summary>
    private void CheckOneDType()
    {
        if (files.Count < 2) return;
        var byFile = files.Select(f => (File: f, Types: f.Tensors.Select(t => t.DType).Where(IsFloat).Distinct().Order().ToList()))
            .Where(f => f.Types.Count > 0).ToList();
        var first = byFile.FirstOrDefault();
        foreach (var other in byFile.Skip(1))
        {
            if (other.Types.SequenceEqual(first.Types)) continue;
            throw new WeightLoadingException(other.File.FilePath, null,
                $"its weights are {string.Join("/", other.Types.Select(t => t.ToHeaderString()))} but those of '{Path.GetFileName(first.File.FilePath)}' are " +
                $"{string.Join("/", first.Types.Select(t => t.ToHeaderString()))}: the shards of {Path.GetFileName(source)} come from different saves.");
        }
    }

    private static bool IsFloat(SafeTensorsDType d) => d is SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.F64;

    private void DetectPrefix()
    {
        const string anchor = "embeddings.word_embeddings.weight";
        var hit = tensors.Keys.Where(k => k == anchor || k.EndsWith("." + anchor, StringComparison.Ordinal))
            .OrderBy(k => k.Length).FirstOrDefault()
            ?? throw new WeightLoadingException(source, anchor,
                $"not found under any prefix (a {layout.BasePrefix} checkpoint has it with or without '{layout.BasePrefix}.'); this does not look like a BERT, RoBERTa, XLM-R, DistilBERT or MPNet checkpoint.");
        Prefix = hit[..^anchor.Length];
    }

    /// <summary>
    /// Refuses a config.json that asks for more layers than the checkpoint holds (<c>encoder.layer.N</c>,
    /// DistilBERT's <c>transformer.layer.N</c>) before the module tree is built: the layer list is sized by the count.
    /// </summary>
    public void CheckLayerCount(int layers, string configPath)
    {
        var held = 0;
        foreach (var key in tensors.Keys)
        {
            if (!key.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            var rest = key.AsSpan(Prefix.Length);
            foreach (var root in (ReadOnlySpan<string>)["encoder.layer.", "transformer.layer."])
            {
                if (!rest.StartsWith(root, StringComparison.Ordinal)) continue;
                var digits = rest[root.Length..];
                var end = digits.IndexOf('.');
                if (end > 0 && int.TryParse(digits[..end], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var layer))
                    held = Math.Max(held, layer + 1);
            }
        }
        if (layers > held)
            throw new WeightLoadingException(source, null,
                $"{configPath} asks for {layers} layers (num_hidden_layers) but the checkpoint holds {held}; the config and the weights do not belong together.");
    }

    /// <summary>The type and device the tensors are converted to when taken.</summary>
    /// <returns>This loader.</returns>
    public CheckpointLoader Into(ScalarType type, Device target)
    {
        dtype = type;
        device = target;
        return this;
    }

    /// <summary>
    /// Looks for NaN and ±Inf in every floating-point tensor now, reading the files with <c>pread</c> into one small
    /// buffer: it needs no libtorch, so a model load does it while libtorch loads, and no page of a mapping (libtorch
    /// maps the file itself). <see cref="Take"/> then refuses a damaged tensor without reading it again; a damaged
    /// tensor the model does not take is not an error, as before.
    /// </summary>
    public void CheckValues()
    {
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        var buffer = new byte[1 << 20]; // a multiple of every element size; stays in L2
        foreach (var (key, (file, info)) in tensors)
        {
            if (!IsFloat(info.DType) || info.ByteLength == 0) continue;
            for (long start = 0; start < info.ByteLength; start += buffer.Length)
            {
                var length = (int)Math.Min(buffer.Length, info.ByteLength - start);
                var bytes = buffer.AsSpan(0, length);
                if (file.Read(file.DataStart + info.ByteOffset + start, bytes) != length)
                    throw new WeightLoadingException(file.FilePath, key, "the file ends inside this tensor; was it truncated while loading?");
                if (NonFiniteIn(bytes, start, info) is not { } what) continue;
                found[key] = what;
                break;
            }
        }
        nonFinite = found;
    }

    /// <summary>How many values the matrices inside the encoder's layers hold (their linear layers' weights): what
    /// the kernels will pack.</summary>
    public long LayerMatrixValues()
    {
        long values = 0;
        foreach (var (key, (_, info)) in tensors)
        {
            if (info.Shape.Count != 2 || !IsFloat(info.DType) || !key.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            var rest = key.AsSpan(Prefix.Length);
            if (rest.StartsWith("encoder.layer.", StringComparison.Ordinal) || rest.StartsWith("transformer.layer.", StringComparison.Ordinal))
                values += info.ElementCount;
        }
        return values;
    }

    /// <summary>Whether a tensor exists at the HF module path.</summary>
    public bool Has(string path, bool outsideBase = false) => Resolve(path, outsideBase) != null;

    /// <summary>Loads the tensor at the HF module path, checks its shape and converts it to the model dtype and device.</summary>
    public unsafe Parameter Take(string path, long[] shape, bool outsideBase = false)
    {
        var key = Resolve(path, outsideBase) ?? throw new WeightLoadingException(source, (outsideBase ? "" : Prefix) + path,
            $"missing; the model needs it with shape [{string.Join(", ", shape)}].");
        var (file, info) = tensors[key];
        if (!info.Shape.SequenceEqual(shape))
            throw new WeightLoadingException(file.FilePath, key,
                $"shape mismatch: expected [{string.Join(", ", shape)}], found [{string.Join(", ", info.Shape)}].");
        used.Add(key);
        using var scope = NewDisposeScope();
        if (device is null) throw new InvalidOperationException("Say where the tensors go (Into) before taking one.");
        if (nonFinite is not null && nonFinite.TryGetValue(key, out var damage)) throw NonFinite(file, key, damage);
        var raw = Mapped(file, info) ?? Materialize(file, info); // the file's values, on the CPU, their pages mapped
        if (nonFinite is null && FirstNonFinite(Kernels.TensorMemory.Bytes(raw), info) is { } what) throw NonFinite(file, key, what);
        var tensor = raw.to(dtype, device);
        var parameter = new Parameter(tensor, requires_grad: false);
        scope.Detach(parameter);
        return parameter;
    }

    private string? Resolve(string path, bool outsideBase)
    {
        var prefix = outsideBase ? "" : Prefix;
        foreach (var candidate in Candidates(path))
        {
            if (tensors.ContainsKey(prefix + candidate)) return prefix + candidate;
        }
        return null;
    }

    private IEnumerable<string> Candidates(string path)
    {
        yield return path;
        // Old TF-converted checkpoints name LayerNorm parameters gamma/beta (as HF's _fix_key).
        if (path.EndsWith("LayerNorm.weight", StringComparison.Ordinal))
        {
            usedLegacyNames = true;
            yield return path[..^"weight".Length] + "gamma";
        }
        else if (path.EndsWith("LayerNorm.bias", StringComparison.Ordinal))
        {
            usedLegacyNames = true;
            yield return path[..^"bias".Length] + "beta";
        }
    }

    /// <summary>The first NaN or ±Inf among a tensor's values (its index and value, for the message), or null.</summary>
    private static unsafe string? FirstNonFinite(byte* p, SafeTensorInfo info)
    {
        const long chunk = 1L << 30; // spans hold at most 2 GiB
        for (long start = 0; start < info.ByteLength; start += chunk)
            if (NonFiniteIn(new ReadOnlySpan<byte>(p + start, (int)Math.Min(chunk, info.ByteLength - start)), start, info) is { } what)
                return what;
        return null;
    }

    /// <summary>The first NaN or ±Inf in <paramref name="bytes"/>, the tensor's bytes from <paramref name="start"/> on, or null.</summary>
    private static string? NonFiniteIn(ReadOnlySpan<byte> bytes, long start, SafeTensorInfo info)
    {
        var at = NonFiniteValues.IndexOfFirst(bytes, info.DType);
        return at < 0 ? null : $"element {start / info.DType.ElementSize() + at} (of {info.ElementCount}) is {NonFiniteValues.Describe(bytes, info.DType, at)}";
    }

    /// <summary>NaN or ±Inf in a weight is refused with the tensor's name and the first element's index.</summary>
    private static WeightLoadingException NonFinite(SafeTensorsFile file, string key, string what) =>
        new(file.FilePath, key, $"{what}: the checkpoint is damaged or was saved from a diverged training run, and every text " +
                                "meeting this weight would embed as NaN. Re-download or re-export it.");

    /// <summary>
    /// The tensor as a view of the file itself when it needs no conversion (the model's dtype, on the CPU, aligned):
    /// no copy and no fresh memory — weights stay shared page-cache pages, mapped in one call. On a virtual machine
    /// copying all-MiniLM-L6-v2's 90 MB cost ~23,000 page faults (0.5–0.9 s of a process's start).
    /// </summary>
    private unsafe Tensor? Mapped(SafeTensorsFile file, SafeTensorInfo info)
    {
        var type = ToScalarType(info.DType);
        if (type != dtype || device!.type != DeviceType.CPU || info.ByteLength == 0) return null;
        long size = ElementSize(type.Value), offset = file.DataStart + info.ByteOffset;
        if (offset % size != 0) return null;
        if (!mappings.TryGetValue((file, type.Value), out var whole))
        {
            // Mapped copy-on-write from the descriptor the header was validated through (not the path: a file renamed over
            // it meanwhile is not read). The mapping lives as long as the weights; see docs/safetensors.md for what
            // changing the file in place does to a loaded model.
            using var outer = NewDisposeScope();
            try
            {
                whole = from_file(file.SameFilePath, shared: false, size: file.FileLength / size, dtype: type.Value).DetachFromDisposeScope();
            }
            catch (Exception e) when (e is System.Runtime.InteropServices.ExternalException or IOException)
            {
                throw new WeightLoadingException(file.FilePath, info.Name,
                    $"the file cannot be mapped ({e.Message.Split('\n')[0]}); was it truncated or replaced while loading?", e);
            }
            mappings[(file, type.Value)] = whole;
        }
        var shape = info.Shape.ToArray();
        var strides = new long[shape.Length];
        long stride = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = stride;
            stride *= shape[i];
        }
        var view = whole.as_strided(shape, strides, offset / size);
        Runtime.Pages.PopulateForRead(Kernels.TensorMemory.Bytes(view), info.ByteLength);
        return view;
    }

    private static long ElementSize(ScalarType type) => type switch
    {
        ScalarType.Float64 => 8,
        ScalarType.Float32 => 4,
        _ => 2,
    };

    private static unsafe Tensor Materialize(SafeTensorsFile file, SafeTensorInfo info)
    {
        var type = ToScalarType(info.DType) ?? throw new WeightLoadingException(file.FilePath, info.Name,
            $"dtype {info.DType} is not supported for weights; expected F32, F16, BF16 or F64.");
        if (info.ByteLength > int.MaxValue)
            throw new WeightLoadingException(file.FilePath, info.Name, $"{info.ByteLength} bytes exceed the 2 GiB per-tensor limit.");
        var t = empty(info.Shape.ToArray(), type);
        if (info.ByteLength == 0) return t;
        // One copy, straight from the memory-mapped file into the tensor's storage, with both ranges mapped up front.
        var source = file.GetPointer(info);
        var target = t.bytes;
        fixed (byte* destination = target)
        {
            Runtime.Pages.PopulateForRead(source, info.ByteLength);
            Runtime.Pages.PopulateForWrite(destination, info.ByteLength);
        }
        new ReadOnlySpan<byte>(source, (int)info.ByteLength).CopyTo(target);
        return t;
    }

    private static ScalarType? ToScalarType(SafeTensorsDType d) => d switch
    {
        SafeTensorsDType.F32 => ScalarType.Float32,
        SafeTensorsDType.F16 => ScalarType.Float16,
        SafeTensorsDType.BF16 => ScalarType.BFloat16,
        SafeTensorsDType.F64 => ScalarType.Float64,
        _ => null,
    };

    /// <summary>Summarises what was loaded; call after the model has taken its weights.</summary>
    public CheckpointReport Report()
    {
        bool IsHead(string k) => layout.HeadRoots.Any(root => k.StartsWith(root + ".", StringComparison.Ordinal));
        var unused = tensors.Keys.Where(k => !used.Contains(k) && !layout.TiedKeys.Contains(k)).Order(StringComparer.Ordinal).ToList();
        var floatTypes = tensors.Values.Select(v => v.Info.DType)
            .Where(d => d is SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.F64)
            .Distinct().ToList();
        return new CheckpointReport(
            files.Select(f => f.FilePath).ToList(),
            Prefix,
            used.Contains(Prefix + "pooler.dense.weight"),
            tensors.Keys.Any(IsHead),
            usedLegacyNames && used.Any(k => k.EndsWith(".gamma", StringComparison.Ordinal)),
            unused,
            floatTypes.Count == 1 ? floatTypes[0] : SafeTensorsDType.F32);
    }

    public void Dispose()
    {
        foreach (var m in mappings.Values) m.Dispose(); // the weights' views keep their mapping alive
        mappings.Clear();
        foreach (var f in files) f.Dispose();
        files.Clear();
    }
}

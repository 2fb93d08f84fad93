using System.Text.Json;

namespace TransformerEmbeddings.Configuration;

/// <summary>
/// The fields of a HuggingFace <c>config.json</c> that change the encoder's math, validated when read, under one set
/// of names for every family (DistilBERT's <c>dim</c>, <c>n_layers</c>, <c>n_heads</c>, <c>hidden_dim</c> and
/// <c>activation</c> read as <see cref="HiddenSize"/>, <see cref="NumHiddenLayers"/>, <see cref="NumAttentionHeads"/>,
/// <see cref="IntermediateSize"/> and <see cref="HiddenAct"/>). Optional fields take HuggingFace's defaults
/// (<c>hidden_act</c> gelu, <c>layer_norm_eps</c> 1e-12, <c>type_vocab_size</c> 2, <c>pad_token_id</c> 0 for BERT and
/// DistilBERT and 1 for RoBERTa and MPNet, <c>position_embedding_type</c> absolute, <c>relative_attention_num_buckets</c> 32).
/// </summary>
public sealed record EncoderConfig
{
    /// <summary>The <c>model_type</c> as written (<c>bert</c>, <c>roberta</c>, <c>xlm-roberta</c>, <c>camembert</c>, <c>distilbert</c>, <c>mpnet</c>).</summary>
    public required string ModelType { get; init; }

    /// <summary>The encoder family: which module tree and position ids the model uses.</summary>
    public required ModelArchitecture Architecture { get; init; }

    /// <summary><c>vocab_size</c>.</summary>
    public required int VocabSize { get; init; }

    /// <summary><c>hidden_size</c> (d_model; DistilBERT's <c>dim</c>).</summary>
    public required int HiddenSize { get; init; }

    /// <summary><c>num_hidden_layers</c> (DistilBERT's <c>n_layers</c>).</summary>
    public required int NumHiddenLayers { get; init; }

    /// <summary><c>num_attention_heads</c> (DistilBERT's <c>n_heads</c>).</summary>
    public required int NumAttentionHeads { get; init; }

    /// <summary><c>intermediate_size</c>, the feed-forward width (DistilBERT's <c>hidden_dim</c>).</summary>
    public required int IntermediateSize { get; init; }

    /// <summary><c>hidden_act</c> (DistilBERT's <c>activation</c>).</summary>
    public HiddenActivation HiddenAct { get; init; } = HiddenActivation.Gelu;

    /// <summary><c>layer_norm_eps</c>; DistilBERT's LayerNorms use 1e-12 whatever the file says, as HF's do.</summary>
    public double LayerNormEps { get; init; } = 1e-12;

    /// <summary><c>max_position_embeddings</c>: rows of the position table.</summary>
    public required int MaxPositionEmbeddings { get; init; }

    /// <summary><c>type_vocab_size</c>: rows of the token-type table; 0 for families without one (DistilBERT, MPNet), whose models ignore token type ids.</summary>
    public int TypeVocabSize { get; init; } = 2;

    /// <summary><c>pad_token_id</c>; RoBERTa's padding_idx for position ids.</summary>
    public int PadTokenId { get; init; }

    /// <summary>MPNet's <c>relative_attention_num_buckets</c>: rows of the relative position bias table; 0 for the other families.</summary>
    public int RelativeAttentionNumBuckets { get; init; }


    /// <summary>Size of one attention head: <c>hidden_size / num_attention_heads</c>.</summary>
    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>
    /// The longest sequence the position table allows: <c>max_position_embeddings</c>, minus
    /// <c>padding_idx + 1</c> for RoBERTa and MPNet (whose positions start after the padding index).
    /// </summary>
    public int MaxSequenceLength => ModelArchitectures.MaxSequenceLength(Architecture, MaxPositionEmbeddings, PadTokenId);

    /// <summary>
    /// The padding index position ids count from (RoBERTa's <c>pad_token_id</c>; MPNet's is 1 whatever the config
    /// says, as in HF's MPNetEmbeddings), or null where positions are 0..S-1 (BERT, DistilBERT).
    /// </summary>
    internal int? PositionPaddingIndex => ModelArchitectures.PositionPaddingIndex(Architecture, PadTokenId);

    /// <summary>Reads and validates <c>config.json</c> from a model folder or a file path.</summary>
    /// <param name="path">A model folder or the path of its <c>config.json</c>.</param>
    /// <returns>The validated configuration.</returns>
    /// <exception cref="ModelConfigurationException">The file is missing, not JSON, lacks a field or describes an unsupported model.</exception>
    public static EncoderConfig Load(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        ModelFile.Failure fail = (message, inner) => new ModelConfigurationException(file, null, message, inner);
        if (!ModelFile.Exists(file, fail))
            throw new ModelConfigurationException(file, null, "the file does not exist; a HuggingFace model folder holds a config.json.");
        var json = ModelFile.ReadAllText(file, ModelFile.MaxSettingsBytes, fail);
        return Parse(json, file);
    }

    /// <summary>Parses and validates the text of a <c>config.json</c>.</summary>
    /// <param name="json">The JSON text.</param>
    /// <param name="sourceName">The name used in error messages (usually the file path).</param>
    /// <returns>The validated configuration.</returns>
    /// <exception cref="ModelConfigurationException">The JSON is malformed, lacks a field or describes an unsupported model.</exception>
    public static EncoderConfig Parse(string json, string sourceName = "config.json")
    {
        if (string.IsNullOrWhiteSpace(json))
            throw new ModelConfigurationException(sourceName, null, "the file is empty; it should hold the model's settings as a JSON object.");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip, MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new ModelConfigurationException(sourceName, null, "not valid JSON: " + e.Message, e);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new ModelConfigurationException(sourceName, null, $"expected a JSON object, found {root.ValueKind}.");

            var modelType = RequiredString(root, "model_type", sourceName);
            var architecture = ModelArchitectures.Of(modelType) ?? throw new ModelConfigurationException(sourceName, "model_type",
                $"unsupported model type '{Shorten(modelType)}'; supported: {string.Join(", ", ModelArchitectures.ModelTypes)}.");

            if (architecture is ModelArchitecture.Bert or ModelArchitecture.Roberta)
            {
                var positionType = OptionalString(root, "position_embedding_type", sourceName) ?? "absolute";
                if (positionType != "absolute")
                    throw new ModelConfigurationException(sourceName, "position_embedding_type",
                        $"'{Shorten(positionType)}' is not supported; only 'absolute' position embeddings are.");
            }

            // DistilBERT names its fields differently (HF maps hidden_size to dim etc. through attribute_map).
            var distil = architecture == ModelArchitecture.DistilBert;
            var (headsKey, actKey) = distil ? (Present(root, "n_heads", "num_attention_heads"), "activation") : ("num_attention_heads", "hidden_act");
            var act = OptionalString(root, actKey, sourceName) ?? "gelu";
            var activation = act switch
            {
                "gelu" => HiddenActivation.Gelu,
                "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => HiddenActivation.GeluTanh,
                "relu" => HiddenActivation.Relu,
                "silu" or "swish" => HiddenActivation.Silu,
                _ => throw new ModelConfigurationException(sourceName, actKey,
                    $"unsupported activation '{Shorten(act)}'; supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu, silu."),
            };

            var config = new EncoderConfig
            {
                ModelType = modelType,
                Architecture = architecture,
                VocabSize = PositiveInt(root, "vocab_size", sourceName, null),
                HiddenSize = PositiveInt(root, distil ? Present(root, "dim", "hidden_size") : "hidden_size", sourceName, null),
                NumHiddenLayers = PositiveInt(root, distil ? Present(root, "n_layers", "num_hidden_layers") : "num_hidden_layers", sourceName, null),
                NumAttentionHeads = PositiveInt(root, headsKey, sourceName, null),
                IntermediateSize = PositiveInt(root, distil ? "hidden_dim" : "intermediate_size", sourceName, null),
                MaxPositionEmbeddings = PositiveInt(root, "max_position_embeddings", sourceName, null),
                TypeVocabSize = architecture is ModelArchitecture.Bert or ModelArchitecture.Roberta
                    ? PositiveInt(root, "type_vocab_size", sourceName, 2)
                    : 0,
                PadTokenId = NonNegativeInt(root, "pad_token_id", sourceName, ModelArchitectures.DefaultPadTokenId(architecture)),
                HiddenAct = activation,
                LayerNormEps = distil ? 1e-12 : PositiveDouble(root, "layer_norm_eps", sourceName, 1e-12),
                RelativeAttentionNumBuckets = architecture == ModelArchitecture.MPNet
                    ? PositiveInt(root, "relative_attention_num_buckets", sourceName, MPNetBuckets)
                    : 0,
            };

            if (config.HiddenSize % config.NumAttentionHeads != 0)
                throw new ModelConfigurationException(sourceName, headsKey,
                    $"the hidden size ({config.HiddenSize}) is not a multiple of the number of attention heads ({config.NumAttentionHeads}).");
            if (config.PadTokenId >= config.VocabSize)
                throw new ModelConfigurationException(sourceName, "pad_token_id",
                    $"{config.PadTokenId} is outside the vocabulary (vocab_size {config.VocabSize}).");
            if (config.Architecture == ModelArchitecture.MPNet && config.RelativeAttentionNumBuckets < MPNetBuckets)
                throw new ModelConfigurationException(sourceName, "relative_attention_num_buckets",
                    $"{config.RelativeAttentionNumBuckets} rows cannot hold the {MPNetBuckets} relative position buckets HF's MPNetEncoder computes.");
            if (config.MaxSequenceLength < 1)
                throw new ModelConfigurationException(sourceName, "max_position_embeddings",
                    $"{config.MaxPositionEmbeddings} leaves no usable positions after the padding index {config.PositionPaddingIndex}.");
            return config;
        }
    }

    // HF's MPNetEncoder.compute_position_bias always buckets relative positions into 32 (max distance 128).
    internal const int MPNetBuckets = 32;

    /// <summary>The first of <paramref name="names"/> the file has, else the first (so a missing field is named as HF writes it).</summary>
    private static string Present(JsonElement root, params string[] names) =>
        names.FirstOrDefault(n => root.TryGetProperty(n, out var v) && v.ValueKind != JsonValueKind.Null) ?? names[0];

    private static string RequiredString(JsonElement root, string name, string source)
        => OptionalString(root, name, source)
           ?? throw new ModelConfigurationException(source, name, "required field is missing.");

    private static string? OptionalString(JsonElement root, string name, string source)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.String)
            throw new ModelConfigurationException(source, name, $"expected a string, found {v.ValueKind} ({Shorten(v.GetRawText())}).");
        return v.GetString()!;
    }

    private static int PositiveInt(JsonElement root, string name, string source, int? fallback)
    {
        var value = Int(root, name, source, fallback);
        if (value <= 0) throw new ModelConfigurationException(source, name, $"must be positive, found {value}.");
        return value;
    }

    private static int NonNegativeInt(JsonElement root, string name, string source, int fallback)
    {
        var value = Int(root, name, source, fallback);
        if (value < 0) throw new ModelConfigurationException(source, name, $"must not be negative, found {value}.");
        return value;
    }

    private static int Int(JsonElement root, string name, string source, int? fallback)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            return fallback ?? throw new ModelConfigurationException(source, name, "required field is missing.");
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var i))
            throw new ModelConfigurationException(source, name, v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && d == Math.Floor(d)
                ? $"{v.GetRawText()} is out of range: sizes and ids are 32-bit integers (at most {int.MaxValue})."
                : $"expected an integer, found {Shorten(v.GetRawText())}.");
        return i;
    }

    /// <summary>A value quoted in a message, cut short when a hostile file makes it long.</summary>
    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";

    private static double PositiveDouble(JsonElement root, string name, string source, double fallback)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return fallback;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out var d) || !(d > 0) || double.IsInfinity(d))
            throw new ModelConfigurationException(source, name, $"expected a positive number, found {Shorten(v.GetRawText())}.");
        return d;
    }
}

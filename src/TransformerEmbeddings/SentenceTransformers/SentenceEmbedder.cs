using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Hub;
using TransformerEmbeddings.Pooling;
using static TorchSharp.torch;

namespace TransformerEmbeddings.SentenceTransformers;

/// <summary>
/// Texts in, one float32 vector per text out. Loaded from a sentence-transformers folder (<c>modules.json</c>:
/// Transformer, Pooling, then any Dense and Normalize modules; <c>sentence_bert_config.json</c>;
/// <c>config_sentence_transformers.json</c> prompts and <c>truncate_dim</c>), <see cref="Embed(IReadOnlyList{string}, string?, int)"/> equals
/// <c>SentenceTransformer(folder).encode(texts)</c>. Any other model folder gets mean pooling and L2 normalisation,
/// or the pooling chain you give it.
/// <code>
/// using var embedder = SentenceEmbedder.Load("all-MiniLM-L6-v2");
/// float[][] vectors = embedder.Embed(["The quick brown fox.", "A fast auburn fox."]);
/// </code>
/// Texts are embedded in batches of similar length (longest first, as sentence-transformers does); results come back in
/// input order; memory is bounded by one batch. Thread-safe for concurrent <see cref="Embed(IReadOnlyList{string}, string?, int)"/> calls.
/// </summary>
public sealed class SentenceEmbedder : IDisposable
{
    private readonly bool ownsModel;
    private readonly Func<EncoderOutput, Embeddings>? custom;
    private readonly IReadOnlyList<DenseModule?> afterPooling;
    private readonly bool doLowerCase;
    private readonly bool includePrompt;
    private readonly bool firstTokenCls;
    private int dimension;
    private bool disposed;

    private SentenceEmbedder(TransformerModel model, bool ownsModel, PoolingStrategy? pooling, Func<EncoderOutput, Embeddings>? custom,
        IReadOnlyList<DenseModule?> afterPooling, int maxSequenceLength, bool doLowerCase, bool includePrompt,
        IReadOnlyDictionary<string, string> prompts, string? defaultPromptName, int? truncateDimension, bool isSentenceTransformers)
    {
        Model = model;
        this.ownsModel = ownsModel;
        Pooling = pooling;
        this.custom = custom;
        this.afterPooling = afterPooling;
        MaxSequenceLength = maxSequenceLength;
        this.doLowerCase = doLowerCase;
        this.includePrompt = includePrompt;
        Prompts = prompts;
        DefaultPromptName = defaultPromptName;
        TruncateDimension = truncateDimension;
        IsSentenceTransformersFolder = isSentenceTransformers;
        firstTokenCls = isSentenceTransformers;
        if (pooling is not null)
        {
            var d = pooling.Modes.Count * model.HiddenSize;
            foreach (var dense in afterPooling)
            {
                if (dense is null) continue;
                if (dense.InFeatures != d)
                    throw new ModelConfigurationException(model.Folder, "in_features", $"A Dense module expects {dense.InFeatures} inputs; the previous module gives {d}.");
                d = dense.OutFeatures;
            }
            if (truncateDimension > d)
                throw new ModelConfigurationException(model.Folder, "truncate_dim", $"truncate_dim {truncateDimension} exceeds the embedding dimension {d}.");
            dimension = truncateDimension ?? d;
        }
    }

    /// <summary>The encoder.</summary>
    public TransformerModel Model { get; }

    /// <summary>The token pooling; null when a custom pooling function is used.</summary>
    public PoolingStrategy? Pooling { get; }

    /// <summary>The length of each vector.</summary>
    public int Dimension => dimension > 0 ? dimension : dimension = Probe();

    /// <summary>The token limit texts are truncated to (sentence-transformers' <c>max_seq_length</c>).</summary>
    public int MaxSequenceLength { get; }

    /// <summary>Named prompts (<c>config_sentence_transformers.json</c>), prepended to the text.</summary>
    public IReadOnlyDictionary<string, string> Prompts { get; }

    /// <summary>The prompt used when none is named, if any.</summary>
    public string? DefaultPromptName { get; }

    /// <summary>Matryoshka truncation applied last (<c>truncate_dim</c>), without renormalisation, as sentence-transformers does.</summary>
    public int? TruncateDimension { get; }

    /// <summary>Whether the folder was a sentence-transformers folder (has <c>modules.json</c>).</summary>
    public bool IsSentenceTransformersFolder { get; }

    /// <summary>
    /// Loads a model folder. With <c>modules.json</c> the sentence-transformers pipeline is rebuilt exactly; otherwise
    /// the embedder uses mean pooling and L2 normalisation.
    /// </summary>
    /// <param name="folder">The model folder, or a HuggingFace model id (<c>org/name</c>, optional <c>@revision</c>; docs/hub.md).</param>
    /// <param name="options">Device, precision and logging for the encoder; revision and offline mode for an id.</param>
    /// <returns>The embedder, which owns its model: dispose it.</returns>
    /// <exception cref="ModelConfigurationException">A sentence-transformers file is malformed, or names a module type that is not supported.</exception>
    /// <exception cref="HubException">A model id cannot be found, downloaded or (offline) is not cached.</exception>
    public static SentenceEmbedder Load(string folder, ModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        folder = ModelHub.ResolveForLoad(folder, options ?? new ModelOptions());
        if (!SentenceTransformersFolder.IsSentenceTransformers(folder))
            return Load(folder, PoolingStrategy.Mean, normalize: true, options);

        var st = SentenceTransformersFolder.Read(folder);
        var model = TransformerModel.Load(st.TransformerFolder, options);
        var dense = new List<DenseModule?>();
        try
        {
            if (st.WordEmbeddingDimension is { } w && w != model.HiddenSize)
                throw new ModelConfigurationException(Path.Combine(folder, "1_Pooling", "config.json"), "word_embedding_dimension",
                    $"Is {w}; the model's hidden size is {model.HiddenSize}.");
            foreach (var module in st.AfterPooling) dense.Add(module is null ? null : DenseModule.Load(module, model.Device));
            return new SentenceEmbedder(model, true, st.Pooling, null, dense, Math.Min(st.MaxSeqLength ?? model.Tokenizer.MaxLength, model.Config.MaxSequenceLength), st.DoLowerCase,
                st.IncludePrompt, st.Prompts, st.DefaultPromptName, st.TruncateDim, true);
        }
        catch
        {
            foreach (var d in dense) d?.Dispose();
            model.Dispose();
            throw;
        }
    }

    /// <summary>Loads any model folder with a given token pooling over the last layer (ignores <c>modules.json</c>).</summary>
    /// <param name="folder">The model folder, or a HuggingFace model id (docs/hub.md).</param>
    /// <param name="pooling">The pooling, e.g. <c>PoolingStrategy.Parse("cls")</c>.</param>
    /// <param name="normalize">L2-normalise the vectors.</param>
    /// <param name="options">Device, precision and logging for the encoder.</param>
    /// <returns>The embedder, which owns its model: dispose it.</returns>
    public static SentenceEmbedder Load(string folder, PoolingStrategy pooling, bool normalize = true, ModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(pooling);
        var model = TransformerModel.Load(folder, options);
        return new SentenceEmbedder(model, true, pooling, null, normalize ? [null] : [], options?.MaxLength ?? model.Tokenizer.MaxLength,
            false, true, new Dictionary<string, string>(), null, null, false);
    }

    /// <summary>An embedder over a loaded model with a token pooling over the last layer.</summary>
    /// <param name="model">The model; the caller keeps ownership.</param>
    /// <param name="pooling">The pooling; mean when null.</param>
    /// <param name="normalize">L2-normalise the vectors.</param>
    /// <param name="maxLength">The token limit; the tokenizer's default when null.</param>
    /// <returns>The embedder (disposing it leaves the model alone).</returns>
    public static SentenceEmbedder Create(TransformerModel model, PoolingStrategy? pooling = null, bool normalize = true, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new SentenceEmbedder(model, false, pooling ?? PoolingStrategy.Mean, null, normalize ? [null] : [], maxLength ?? model.Tokenizer.MaxLength,
            false, true, new Dictionary<string, string>(), null, null, false);
    }

    /// <summary>
    /// An embedder over a loaded model with any pooling chain, e.g.
    /// <c>o =&gt; o.Layers(^4..).Mean().Tokens().Mean().Normalize()</c>. The function receives one batch's output
    /// (disposed after it returns) and must return one vector per row.
    /// </summary>
    /// <param name="model">The model; the caller keeps ownership.</param>
    /// <param name="pooling">The chain from an output to vectors.</param>
    /// <param name="maxLength">The token limit; the tokenizer's default when null.</param>
    /// <returns>The embedder (disposing it leaves the model alone).</returns>
    public static SentenceEmbedder Create(TransformerModel model, Func<EncoderOutput, Embeddings> pooling, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(pooling);
        return new SentenceEmbedder(model, false, null, pooling, [], maxLength ?? model.Tokenizer.MaxLength,
            false, true, new Dictionary<string, string>(), null, null, false);
    }

    /// <summary>
    /// Embeds texts: <c>SentenceTransformer(folder).encode(texts, prompt_name=promptName, batch_size=batchSize)</c> as float32.
    /// </summary>
    /// <param name="texts">The texts.</param>
    /// <param name="promptName">A prompt of <see cref="Prompts"/> to prepend; <see cref="DefaultPromptName"/> when null.</param>
    /// <param name="batchSize">Texts per forward pass.</param>
    /// <returns>One vector per text, in input order.</returns>
    /// <exception cref="ArgumentException">The prompt name is unknown.</exception>
    public float[][] Embed(IReadOnlyList<string> texts, string? promptName = null, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ObjectDisposedException.ThrowIf(disposed, this);
        var prompt = ResolvePrompt(promptName);
        var prepared = texts.Select(t => Prepare((prompt ?? "") + (t ?? throw new ArgumentException("A text is null.", nameof(texts))))).ToArray();
        var promptLength = prompt is not null && !includePrompt ? Model.Tokenizer.Encode(Prepare(prompt), MaxSequenceLength).Count - 1 : 0;
        var order = Enumerable.Range(0, texts.Count).OrderByDescending(i => texts[i].Length).ToArray();
        var result = new float[texts.Count][];
        for (var start = 0; start < order.Length; start += batchSize)
        {
            var idx = order.AsSpan(start, Math.Min(batchSize, order.Length - start)).ToArray();
            var tokens = Model.Tokenizer.EncodeBatch(idx.Select(i => prepared[i]).ToList(), MaxSequenceLength);
            using var inputs = EncoderInputs.FromTokenized(tokens, Model.Tokenizer.PadTokenId);
            using var vectors = EmbedBatch(inputs, promptLength);
            for (var j = 0; j < idx.Length; j++) result[idx[j]] = vectors.RowArray(j);
        }
        return result;
    }

    /// <summary>Embeds one text.</summary>
    /// <param name="text">The text.</param>
    /// <param name="promptName">A prompt name, or null for the default.</param>
    /// <returns>Its vector.</returns>
    public float[] Embed(string text, string? promptName = null) => Embed([text], promptName)[0];

    /// <summary>The pipeline after tokenization, on one padded batch: forward, pooling, Dense/Normalize modules, truncation.</summary>
    /// <param name="inputs">The batch.</param>
    /// <param name="promptLength">Leading tokens (the prompt) left out of pooling when the Pooling module says <c>include_prompt: false</c>.</param>
    /// <returns>One vector per row.</returns>
    internal Embeddings EmbedBatch(EncoderInputs inputs, int promptLength = 0)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var output = Model.Forward(inputs);
        if (custom is not null)
        {
            var e = custom(output);
            if (e.Count != output.BatchSize)
                throw new InvalidOperationException($"The pooling function returned {e.Count} vectors for {output.BatchSize} texts.");
            return e;
        }
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var h = output.LastHiddenState.to(ScalarType.Float32);
        var mask = output.AttentionMask.to(ScalarType.Float32);
        if (promptLength > 0)
        {
            mask = mask.clone();
            mask.narrow(1, 0, Math.Min(promptLength, mask.shape[1])).fill_(0);
        }
        var parts = Pooling!.Modes.Select(m => m == TokenPooling.Cls && firstTokenCls ? h.select(1, 0) : PoolingMath.Pool(m, h, mask)).ToArray();
        var x = parts.Length == 1 ? parts[0] : cat(parts, -1);
        foreach (var module in afterPooling)
        {
            x = module is null ? x / x.norm(1, keepdim: true, p: 2).clamp_min(1e-12) : module.Forward(x);
        }
        if (TruncateDimension is { } t) x = x.narrow(1, 0, t);
        return Embeddings.FromTensor(x);
    }

    private string? ResolvePrompt(string? promptName)
    {
        if (promptName is null) return DefaultPromptName is null ? null : Prompts[DefaultPromptName];
        return Prompts.TryGetValue(promptName, out var p)
            ? p
            : throw new ArgumentException(
                $"Prompt '{promptName}' is not defined; {(Prompts.Count == 0 ? "this model defines no prompts" : "defined: " + string.Join(", ", Prompts.Keys))}.",
                nameof(promptName));
    }

    private string Prepare(string text)
    {
        if (!IsSentenceTransformersFolder) return text;
        var s = text.Trim();
        return doLowerCase ? s.ToLowerInvariant() : s;
    }

    private int Probe()
    {
        using var inputs = EncoderInputs.FromIds([[Model.Tokenizer.PadTokenId]], Model.Tokenizer.PadTokenId);
        using var e = EmbedBatch(inputs);
        return e.Dimension;
    }

    /// <summary>This embedder as a Microsoft.Extensions.AI embedding generator (which then owns it).</summary>
    /// <returns>The generator.</returns>
    public SentenceEmbeddingGenerator AsEmbeddingGenerator() => new(this);

    /// <summary>Releases the Dense weights, and the model when this embedder loaded it.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var d in afterPooling) d?.Dispose();
        if (ownsModel) Model.Dispose();
    }
}

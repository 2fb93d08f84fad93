using System.Runtime.CompilerServices;
using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Hub;
using TransformerEmbeddings.Pipelines;
using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.Search;
using static TorchSharp.torch;

namespace TransformerEmbeddings.SentenceTransformers;

/// <summary>
/// Texts in, one float32 vector per text out. Loaded from a sentence-transformers folder (<c>modules.json</c>:
/// Transformer, Pooling, then any Dense and Normalize modules; <c>sentence_bert_config.json</c>;
/// <c>config_sentence_transformers.json</c> prompts, <c>truncate_dim</c>, <c>similarity_fn_name</c>),
/// <see cref="Embed(IReadOnlyList{string}, EmbeddingOptions?, IProgress{EmbeddingProgress}?, CancellationToken)"/> equals
/// <c>SentenceTransformer(folder).encode(texts)</c>. Any other model folder gets mean pooling and L2 normalisation
/// (<c>SentenceTransformer(folder)</c> would not normalise), or the pooling chain you give it.
/// <code>
/// using var embedder = SentenceEmbedder.Load("all-MiniLM-L6-v2");
/// using var vectors = embedder.Embed(["The quick brown fox.", "A fast auburn fox."]);
/// float[,] scores = embedder.Similarity(vectors, vectors);
/// foreach (var item in embedder.EmbedStream(File.ReadLines("corpus.txt"))) Save(item.Index, item.Values);
/// </code>
/// Texts are embedded in batches by a token budget, sorted by length inside a bounded window (<see cref="BatchOptions"/>);
/// results come back in input order; memory is bounded by the window. Thread-safe for concurrent calls.
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
    private int? specialTokens;
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

    /// <summary>How <see cref="Similarity"/> and <see cref="SemanticSearch"/> score vectors: the folder's
    /// <c>similarity_fn_name</c>, cosine when it names none.</summary>
    public SimilarityFunction SimilarityFunction { get; private init; } = SimilarityFunction.Cosine;

    /// <summary>The token limit, checked against the model's position table.</summary>
    private static int CheckedLimit(TransformerModel model, int maxLength)
    {
        if (maxLength < 2 || maxLength > model.Config.MaxSequenceLength)
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength,
                $"The token limit must lie in 2..{model.Config.MaxSequenceLength} (the positions of {model.Folder}).");
        return maxLength;
    }

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
            // The caller's limit wins over sentence_bert_config.json's max_seq_length, as in sentence-transformers.
            var maxLength = options?.MaxLength ?? Math.Min(st.MaxSeqLength ?? model.Tokenizer.MaxLength, model.Config.MaxSequenceLength);
            return new SentenceEmbedder(model, true, st.Pooling, null, dense, CheckedLimit(model, maxLength), st.DoLowerCase,
                st.IncludePrompt, st.Prompts, st.DefaultPromptName, st.TruncateDim, true) { SimilarityFunction = st.Similarity };
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
        try
        {
            return new SentenceEmbedder(model, true, pooling, null, normalize ? [null] : [], CheckedLimit(model, options?.MaxLength ?? model.Tokenizer.MaxLength),
                false, true, new Dictionary<string, string>(), null, null, false);
        }
        catch
        {
            model.Dispose();
            throw;
        }
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
        return new SentenceEmbedder(model, false, pooling ?? PoolingStrategy.Mean, null, normalize ? [null] : [], CheckedLimit(model, maxLength ?? model.Tokenizer.MaxLength),
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
        return new SentenceEmbedder(model, false, null, pooling, [], CheckedLimit(model, maxLength ?? model.Tokenizer.MaxLength),
            false, true, new Dictionary<string, string>(), null, null, false);
    }

    /// <summary>
    /// Embeds texts: <c>SentenceTransformer(folder).encode(texts)</c> as float32, one row per text in input order.
    /// Texts run in batches by a token budget, sorted by length within a window (<see cref="EmbeddingOptions.Batching"/>);
    /// each vector is copied once, from the pooled batch into the result.
    /// </summary>
    /// <param name="texts">The texts.</param>
    /// <param name="options">Prompt, normalisation, truncation, batching, long texts; the folder's pipeline when null.</param>
    /// <param name="progress">Told after every forward pass (texts, tokens, tokens/s, texts cut at the limit).</param>
    /// <param name="cancellationToken">Checked between forward passes.</param>
    /// <returns>(texts, dimension) embeddings.</returns>
    /// <exception cref="ArgumentException">The prompt name is unknown, or token vectors were asked for (use <see cref="EmbedStream"/>).</exception>
    /// <exception cref="TextTooLongException">A text is over the limit and <see cref="LongTextHandling.Refuse"/> was asked for.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public Embeddings Embed(IReadOnlyList<string> texts, EmbeddingOptions? options = null, IProgress<EmbeddingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ObjectDisposedException.ThrowIf(disposed, this);
        if (options?.Output == EmbeddingOutput.TokenVectors)
            throw new ArgumentException("Embed returns one vector per text; token vectors come from EmbedStream or EmbedAsync.", nameof(options));
        var run = new EmbeddingRun(this, options, progress, cancellationToken);
        var target = new EmbeddingRun.MatrixTarget(texts.Count);
        var window = run.WindowSize;
        for (var start = 0; start < texts.Count; start += window)
        {
            var w = run.Begin(new ListSegment<string>(texts, start, Math.Min(window, texts.Count - start)), start, target);
            while (w.Step()) while (w.TryNext(out _)) { }
            while (w.TryNext(out _)) { }
        }
        run.Report(completed: true);
        return target.Buffer is null ? new Embeddings([], 0, Dimension) : new Embeddings(target.Buffer, texts.Count, target.Dimension);
    }

    /// <summary>Embeds one text.</summary>
    /// <param name="text">The text.</param>
    /// <param name="options">Per-call options; the folder's pipeline when null.</param>
    /// <returns>Its vector.</returns>
    public float[] Embed(string text, EmbeddingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        using var e = Embed([text], options);
        return e.Values.ToArray();
    }

    /// <summary>
    /// Embeds a stream of any length with memory bounded by one sort window: results come in input order as their
    /// batches complete, each a managed array the caller owns.
    /// </summary>
    /// <param name="texts">The texts, read once.</param>
    /// <param name="options">Per-call options; the folder's pipeline when null.</param>
    /// <param name="progress">Told after every forward pass.</param>
    /// <param name="cancellationToken">Checked between forward passes.</param>
    /// <returns>One result per text, in input order.</returns>
    public IEnumerable<EmbeddedText> EmbedStream(IEnumerable<string> texts, EmbeddingOptions? options = null,
        IProgress<EmbeddingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ObjectDisposedException.ThrowIf(disposed, this);
        var run = new EmbeddingRun(this, options, progress, cancellationToken);
        return Stream(run, texts);
    }

    private static IEnumerable<EmbeddedText> Stream(EmbeddingRun run, IEnumerable<string> texts)
    {
        var size = run.WindowSize;
        var skip = run.Options.SkipTexts;
        var buffer = new List<string>(size);
        long index = 0, start = 0;
        foreach (var text in texts)
        {
            // Whole windows done by an earlier run are only read.
            if (index++ < skip / size * size)
            {
                start = index;
                continue;
            }
            buffer.Add(text);
            if (buffer.Count < size) continue;
            foreach (var r in RunWindow(run, buffer, start)) yield return r;
            start += buffer.Count;
            buffer.Clear();
        }
        if (buffer.Count > 0)
            foreach (var r in RunWindow(run, buffer, start)) yield return r;
        run.Report(completed: true);
    }

    private static IEnumerable<EmbeddedText> RunWindow(EmbeddingRun run, List<string> texts, long start)
    {
        var target = new EmbeddingRun.PerTextTarget(texts.Count);
        var window = run.Begin(texts, start, target);
        while (true)
        {
            while (window.TryNext(out var slot)) yield return Result(window, target, slot, start);
            if (!window.Step()) break;
        }
        while (window.TryNext(out var slot)) yield return Result(window, target, slot, start);
    }

    private static EmbeddedText Result(EmbeddingRun.Window window, EmbeddingRun.PerTextTarget target, int slot, long start)
    {
        var t = window.Tokenization(slot);
        var windows = window.Windows(slot);
        return new EmbeddedText(start + slot, target.Take(slot), window.Rows(slot), windows > 1 ? t.Count : t.Count, windows > 1 ? 0 : t.TruncatedTokenCount, windows);
    }

    /// <summary>
    /// Embeds an asynchronous stream (a channel, a database cursor, a file read as it arrives) with memory bounded by one
    /// sort window; forward passes run on the thread pool, results come in input order as their batches complete.
    /// </summary>
    /// <param name="texts">The texts, read once.</param>
    /// <param name="options">Per-call options; the folder's pipeline when null.</param>
    /// <param name="progress">Told after every forward pass.</param>
    /// <param name="cancellationToken">Checked between forward passes and while waiting for texts.</param>
    /// <returns>One result per text, in input order.</returns>
    public async IAsyncEnumerable<EmbeddedText> EmbedAsync(IAsyncEnumerable<string> texts, EmbeddingOptions? options = null,
        IProgress<EmbeddingProgress>? progress = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ObjectDisposedException.ThrowIf(disposed, this);
        var run = new EmbeddingRun(this, options, progress, cancellationToken);
        var size = run.WindowSize;
        var skip = run.Options.SkipTexts;
        var buffer = new List<string>(size);
        long index = 0, start = 0;
        await using var e = texts.GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            var more = await e.MoveNextAsync().ConfigureAwait(false);
            if (more)
            {
                if (index++ < skip / size * size)
                {
                    start = index;
                    continue;
                }
                buffer.Add(e.Current);
                if (buffer.Count < size) continue;
            }
            if (buffer.Count > 0)
            {
                var target = new EmbeddingRun.PerTextTarget(buffer.Count);
                var batchTexts = buffer.ToArray();
                var window = await Task.Run(() => run.Begin(batchTexts, start, target), cancellationToken).ConfigureAwait(false);
                while (true)
                {
                    while (window.TryNext(out var slot)) yield return Result(window, target, slot, start);
                    if (!await Task.Run(window.Step, cancellationToken).ConfigureAwait(false)) break;
                }
                while (window.TryNext(out var slot)) yield return Result(window, target, slot, start);
                start += buffer.Count;
                buffer.Clear();
            }
            if (!more) break;
        }
        run.Report(completed: true);
    }

    /// <summary>Scores two batches of vectors with the folder's <c>similarity_fn_name</c> (cosine by default).</summary>
    /// <param name="a">Vectors from this embedder.</param>
    /// <param name="b">Vectors from this embedder.</param>
    /// <returns>(a.Count, b.Count) scores, higher is more similar.</returns>
    public float[,] Similarity(Embeddings a, Embeddings b)
    {
        ArgumentNullException.ThrowIfNull(a);
        return a.Similarity(b, SimilarityFunction);
    }

    /// <summary>Exact top-k search with the folder's <c>similarity_fn_name</c> (<c>util.semantic_search</c>).</summary>
    /// <param name="queries">Query vectors from this embedder.</param>
    /// <param name="corpus">Corpus vectors from this embedder.</param>
    /// <param name="topK">Hits per query.</param>
    /// <returns>One array of hits per query, best first.</returns>
    public SearchHit[][] SemanticSearch(Embeddings queries, Embeddings corpus, int topK = 10)
    {
        ArgumentNullException.ThrowIfNull(queries);
        return queries.SemanticSearch(corpus, topK, SimilarityFunction);
    }

    /// <summary>The pipeline after tokenization, on one padded batch: forward, pooling, Dense/Normalize modules, truncation.</summary>
    /// <param name="inputs">The batch.</param>
    /// <param name="promptLength">Leading tokens (the prompt) left out of pooling when the Pooling module says <c>include_prompt: false</c>.</param>
    /// <returns>One vector per row.</returns>
    internal Embeddings EmbedBatch(EncoderInputs inputs, int promptLength = 0)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var scope = NewDisposeScope();
        using var output = Model.Forward(inputs);
        int[]? prompts = promptLength > 0 ? Enumerable.Repeat(promptLength, inputs.BatchSize).ToArray() : null;
        return Embeddings.FromTensor(Pool(output, prompts, null, false));
    }

    /// <summary>
    /// Pooling, Dense/Normalize modules, truncation (the call's, else the folder's) and the call's normalisation on one
    /// output: a contiguous (B, D) float32 CPU tensor in the caller's dispose scope.
    /// </summary>
    internal Tensor Pool(EncoderOutput output, int[]? promptLengths, int? truncateDimension, bool normalize)
    {
        using var _ = no_grad();
        Tensor x;
        if (custom is not null)
        {
            using var e = custom(output);
            if (e.Count != output.BatchSize)
                throw new InvalidOperationException($"The pooling function returned {e.Count} vectors for {output.BatchSize} texts.");
            x = e.ToTensor();
        }
        else
        {
            var h = output.LastHiddenState.to(ScalarType.Float32);
            var mask = output.AttentionMask.to(ScalarType.Float32);
            if (promptLengths is not null)
            {
                mask = mask.clone();
                for (var i = 0; i < promptLengths.Length; i++)
                    if (promptLengths[i] > 0) mask[i].narrow(0, 0, Math.Min(promptLengths[i], mask.shape[1])).fill_(0);
            }
            var parts = new Tensor[Pooling!.Modes.Count];
            for (var i = 0; i < parts.Length; i++)
            {
                var m = Pooling.Modes[i];
                parts[i] = m == TokenPooling.Cls && firstTokenCls ? h.select(1, 0) : PoolingMath.Pool(m, h, mask);
            }
            x = parts.Length == 1 ? parts[0] : cat(parts, -1);
            foreach (var module in afterPooling)
                x = module is null ? L2Normalize(x) : module.Forward(x);
        }
        if ((truncateDimension ?? TruncateDimension) is { } t)
        {
            if (t > x.shape[1])
                throw new ArgumentOutOfRangeException(nameof(truncateDimension), t, $"Cannot truncate {x.shape[1]}-dimensional vectors to {t} dimensions.");
            x = x.narrow(1, 0, t);
        }
        if (normalize) x = L2Normalize(x);
        return x.to(ScalarType.Float32).cpu().contiguous();
    }

    private static Tensor L2Normalize(Tensor x) => x / x.norm(1, keepdim: true, p: 2).clamp_min(1e-12);

    /// <summary>Whether the pipeline's vectors are unit length (it ends with Normalize and no truncation follows).</summary>
    internal bool EndsNormalized => afterPooling.Count > 0 && afterPooling[^1] is null && TruncateDimension is null;

    /// <summary>Special tokens the tokenizer adds to one text ([CLS] and [SEP]: 2).</summary>
    internal int SpecialTokenCount => specialTokens ??= Model.Tokenizer.Encode("").Count;

    /// <summary>Leading tokens of a prompt left out of pooling (<c>include_prompt: false</c>): its tokens and the first special token.</summary>
    internal int PromptTokens(string? prompt) =>
        prompt is null || includePrompt ? 0 : Model.Tokenizer.Encode(Prepare(prompt), MaxSequenceLength).Count - 1;

    internal string? ResolvePrompt(string? promptName)
    {
        if (promptName is null) return DefaultPromptName is null ? null : Prompts[DefaultPromptName];
        return Prompts.TryGetValue(promptName, out var p)
            ? p
            : throw new ArgumentException(
                $"Prompt '{promptName}' is not defined; {(Prompts.Count == 0 ? "this model defines no prompts" : "defined: " + string.Join(", ", Prompts.Keys))}.",
                nameof(promptName));
    }

    internal string Prepare(string text)
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

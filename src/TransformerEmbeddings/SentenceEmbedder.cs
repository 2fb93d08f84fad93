using System.Runtime.CompilerServices;
using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Hub;
using TransformerEmbeddings.Pipelines;
using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.Runtime;
using Microsoft.Extensions.AI;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Search;
using TransformerEmbeddings.SentenceTransformers;
using static TorchSharp.torch;

namespace TransformerEmbeddings;

/// <summary>
/// Texts in, one float32 vector per text out: <see cref="Embed(IReadOnlyList{string}, EmbeddingOptions?, IProgress{EmbeddingProgress}?, CancellationToken)"/>
/// equals <c>SentenceTransformer(folder).encode(texts)</c>. A sentence-transformers folder (<c>modules.json</c>: Transformer,
/// Pooling, then any Dense and Normalize modules; <c>sentence_bert_config.json</c>; <c>config_sentence_transformers.json</c>
/// prompts, <c>truncate_dim</c>, <c>similarity_fn_name</c>) is rebuilt exactly; any other folder gets what
/// <c>SentenceTransformer(folder)</c> gives it, mean pooling without normalisation; or give it your own pipeline
/// (<see cref="SentenceEmbedderOptions"/>).
/// <code>
/// using var embedder = SentenceEmbedder.Load("sentence-transformers/all-MiniLM-L6-v2");
/// var vectors = embedder.Embed(["The quick brown fox.", "A fast auburn fox."]);
/// float[,] scores = embedder.Similarity(vectors, vectors);
/// foreach (var item in embedder.EmbedStream(File.ReadLines("corpus.txt"))) Save(item.Index, item.Values);
/// </code>
/// Texts are embedded in batches by a token budget, sorted by length inside a bounded window (<see cref="BatchOptions"/>);
/// results come back in input order; memory is bounded by the window. Thread-safe for concurrent calls.
/// </summary>
public sealed class SentenceEmbedder : IDisposable
{
    private readonly bool ownsModel;
    private readonly Pipeline pipeline;
    private int dimension;
    private int? specialTokens;
    private readonly Runtime.CallGuard calls;

    /// <summary>Everything after the encoder, from a sentence-transformers folder or from <see cref="SentenceEmbedderOptions"/>.</summary>
    private sealed record Pipeline
    {
        public PoolingStrategy? Pooling { get; init; }
        public Func<EncoderOutput, Embeddings>? PoolingFunction { get; init; }
        public CaptureOptions? Capture { get; init; }

        /// <summary>The modules after pooling, in order: a Dense module, or null for Normalize.</summary>
        public IReadOnlyList<DenseModule?> AfterPooling { get; init; } = [];
        public required int MaxSequenceLength { get; init; }
        public bool DoLowerCase { get; init; }
        public bool IncludePrompt { get; init; } = true;
        public IReadOnlyDictionary<string, string> Prompts { get; init; } = new Dictionary<string, string>();
        public string? DefaultPromptName { get; init; }
        public int? TruncateDimension { get; init; }
        public bool IsSentenceTransformersFolder { get; init; }
        public SimilarityFunction Similarity { get; init; } = SimilarityFunction.Cosine;
    }

    private SentenceEmbedder(TransformerModel model, bool ownsModel, Pipeline pipeline)
    {
        Model = model;
        this.ownsModel = ownsModel;
        this.pipeline = pipeline;
        calls = new Runtime.CallGuard(this);
        if (pipeline.Pooling is { } pooling)
        {
            var d = pooling.Modes.Count * model.HiddenSize;
            foreach (var dense in pipeline.AfterPooling)
            {
                if (dense is null) continue;
                if (dense.InFeatures != d)
                    throw new ModelConfigurationException(model.Folder, "in_features", $"A Dense module expects {dense.InFeatures} inputs; the previous module gives {d}.");
                d = dense.OutFeatures;
            }
            if (pipeline.TruncateDimension > d)
                throw new ModelConfigurationException(model.Folder, "truncate_dim", $"truncate_dim {pipeline.TruncateDimension} exceeds the embedding dimension {d}.");
            dimension = pipeline.TruncateDimension ?? d;
        }
    }

    /// <summary>The encoder.</summary>
    public TransformerModel Model { get; }

    /// <summary>The token pooling; null when a <see cref="SentenceEmbedderOptions.PoolingFunction"/> is used.</summary>
    public PoolingStrategy? Pooling => pipeline.Pooling;

    /// <summary>The length of each vector.</summary>
    public int Dimension => dimension > 0 ? dimension : dimension = Probe();

    /// <summary>The token limit texts are truncated to (sentence-transformers' <c>max_seq_length</c>).</summary>
    public int MaxSequenceLength => pipeline.MaxSequenceLength;

    /// <summary>Named prompts (<c>config_sentence_transformers.json</c>), prepended to the text.</summary>
    public IReadOnlyDictionary<string, string> Prompts => pipeline.Prompts;

    /// <summary>The prompt used when none is named, if any.</summary>
    public string? DefaultPromptName => pipeline.DefaultPromptName;

    /// <summary>Matryoshka truncation applied last (<c>truncate_dim</c>), without renormalisation, as sentence-transformers does.</summary>
    public int? TruncateDimension => pipeline.TruncateDimension;

    /// <summary>Whether the folder was a sentence-transformers folder (has <c>modules.json</c>).</summary>
    public bool IsSentenceTransformersFolder => pipeline.IsSentenceTransformersFolder;

    /// <summary>How <see cref="Similarity"/> and <see cref="SemanticSearch"/> score vectors: the folder's
    /// <c>similarity_fn_name</c>, cosine when it names none.</summary>
    public SimilarityFunction SimilarityFunction => pipeline.Similarity;

    /// <summary>
    /// The token limit, checked against the model's position table. One the caller gave is a usage error; one a file gave
    /// (the tokenizer's <c>model_max_length</c>) is the folder's.
    /// </summary>
    private static int CheckedLimit(TransformerModel model, int maxLength, bool fromCaller = true)
    {
        if (!fromCaller && maxLength < 2)
        {
            var settings = Path.Combine(model.Folder, "tokenizer_config.json");
            throw new ModelConfigurationException(File.Exists(settings) ? settings : model.Tokenizer.Source, "model_max_length",
                $"The tokenizer's token limit is {maxLength}; it must be at least 2 (room for the special tokens).");
        }
        if (maxLength < 2 || maxLength > model.Config.MaxSequenceLength)
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength,
                $"The token limit must lie in 2..{model.Config.MaxSequenceLength} (the positions of {model.Folder}).");
        return maxLength;
    }

    /// <summary>
    /// Loads a model folder or id as sentence-transformers does: with <c>modules.json</c> its pipeline is rebuilt exactly;
    /// otherwise mean pooling without normalisation, as <c>SentenceTransformer(folder)</c> (normalise per call with
    /// <see cref="EmbeddingOptions.Normalize"/>, or choose a pipeline with <see cref="Load(string, SentenceEmbedderOptions, ModelOptions?)"/>).
    /// </summary>
    /// <param name="folder">The model folder, or a HuggingFace model id (<c>org/name</c>, optional <c>@revision</c>; docs/hub.md).</param>
    /// <param name="options">Device, precision, token limit and logging for the encoder; revision and offline mode for an id.</param>
    /// <returns>The embedder, which owns its model: dispose it.</returns>
    /// <exception cref="ModelConfigurationException">A sentence-transformers file is malformed, or names a module type that is not supported.</exception>
    /// <exception cref="HubException">A model id cannot be found, downloaded or (offline) is not cached.</exception>
    public static SentenceEmbedder Load(string folder, ModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        folder = ModelHub.ResolveForLoad(folder, options ?? new ModelOptions());
        if (!SentenceTransformersFolder.IsSentenceTransformers(folder))
            return Load(folder, new SentenceEmbedderOptions(), options);

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
            return new SentenceEmbedder(model, true, new Pipeline
            {
                Pooling = st.Pooling,
                AfterPooling = dense,
                MaxSequenceLength = CheckedLimit(model, maxLength, fromCaller: options?.MaxLength is not null),
                DoLowerCase = st.DoLowerCase,
                IncludePrompt = st.IncludePrompt,
                Prompts = st.Prompts,
                DefaultPromptName = st.DefaultPromptName,
                TruncateDimension = st.TruncateDim,
                IsSentenceTransformersFolder = true,
                Similarity = st.Similarity,
            });
        }
        catch
        {
            foreach (var d in dense) d?.Dispose();
            model.Dispose();
            throw;
        }
    }

    /// <summary>Loads any model folder or id with a pipeline you choose (its <c>modules.json</c>, if any, is ignored).</summary>
    /// <param name="folder">The model folder, or a HuggingFace model id (docs/hub.md).</param>
    /// <param name="pipeline">Pooling, normalisation, token limit.</param>
    /// <param name="options">Device, precision and logging for the encoder.</param>
    /// <returns>The embedder, which owns its model: dispose it.</returns>
    public static SentenceEmbedder Load(string folder, SentenceEmbedderOptions pipeline, ModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(pipeline);
        var model = TransformerModel.Load(folder, options);
        try
        {
            return new SentenceEmbedder(model, true, Build(model, pipeline with { MaxSequenceLength = pipeline.MaxSequenceLength ?? options?.MaxLength }));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>An embedder over a model you loaded, with a pipeline you choose (mean pooling by default).</summary>
    /// <param name="model">The model; you keep it (disposing the embedder leaves it alone).</param>
    /// <param name="pipeline">Pooling (a strategy or any chain), captures, normalisation, token limit; the defaults when null.</param>
    /// <returns>The embedder.</returns>
    public static SentenceEmbedder Create(TransformerModel model, SentenceEmbedderOptions? pipeline = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new SentenceEmbedder(model, false, Build(model, pipeline ?? new SentenceEmbedderOptions()));
    }

    private static Pipeline Build(TransformerModel model, SentenceEmbedderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options.Pooling);
        return new Pipeline
        {
            Pooling = options.PoolingFunction is null ? options.Pooling : null,
            PoolingFunction = options.PoolingFunction,
            Capture = options.Capture,
            AfterPooling = options.Normalize ? [null] : [],
            MaxSequenceLength = CheckedLimit(model, options.MaxSequenceLength ?? model.Tokenizer.MaxLength, fromCaller: options.MaxSequenceLength is not null),
        };
    }

    /// <summary>
    /// Embeds texts: <c>SentenceTransformer(folder).encode(texts)</c> as float32, one row per text in input order.
    /// Texts run in batches by a token budget, sorted by length within a window (<see cref="EmbeddingOptions.Batching"/>);
    /// each vector is copied once, from the pooled batch into the result.
    /// </summary>
    /// <param name="texts">The texts.</param>
    /// <param name="options">Prompt, normalisation, truncation, batching, long texts; the folder's pipeline when null.</param>
    /// <param name="progress">Told as forward passes finish, in order (texts, tokens, tokens/s, texts cut at the limit).</param>
    /// <param name="cancellationToken">Checked between forward passes.</param>
    /// <returns>(texts, dimension) embeddings.</returns>
    /// <exception cref="ArgumentException">The prompt name is unknown, or token vectors were asked for (use <see cref="EmbedStream"/>).</exception>
    /// <exception cref="TextTooLongException">A text is over the limit and <see cref="LongTextHandling.Refuse"/> was asked for.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public Embeddings Embed(IReadOnlyList<string> texts, EmbeddingOptions? options = null, IProgress<EmbeddingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ObjectDisposedException.ThrowIf(calls.IsClosed, this);
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
        return Embed([text], options).Values.ToArray();
    }

    /// <summary>
    /// Embeds a stream of any length with memory bounded by one sort window: results come in input order as their
    /// batches complete, each a managed array the caller owns.
    /// </summary>
    /// <param name="texts">The texts, read once.</param>
    /// <param name="options">Per-call options; the folder's pipeline when null.</param>
    /// <param name="progress">Told as forward passes finish, in order.</param>
    /// <param name="cancellationToken">Checked between forward passes.</param>
    /// <returns>One result per text, in input order.</returns>
    public IEnumerable<EmbeddedText> EmbedStream(IEnumerable<string> texts, EmbeddingOptions? options = null,
        IProgress<EmbeddingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ObjectDisposedException.ThrowIf(calls.IsClosed, this);
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
        try
        {
            while (true)
            {
                while (window.TryNext(out var slot)) yield return Result(window, target, slot, start);
                if (!window.Step()) break;
            }
            while (window.TryNext(out var slot)) yield return Result(window, target, slot, start);
        }
        finally
        {
            window.Stop(); // a caller that stops reading: passes running ahead end before the model may be disposed
        }
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
    /// <param name="progress">Told as forward passes finish, in order.</param>
    /// <param name="cancellationToken">Checked between forward passes and while waiting for texts.</param>
    /// <returns>One result per text, in input order.</returns>
    public async IAsyncEnumerable<EmbeddedText> EmbedAsync(IAsyncEnumerable<string> texts, EmbeddingOptions? options = null,
        IProgress<EmbeddingProgress>? progress = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ObjectDisposedException.ThrowIf(calls.IsClosed, this);
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
                try
                {
                    while (true)
                    {
                        while (window.TryNext(out var slot)) yield return Result(window, target, slot, start);
                        if (!await Task.Run(window.Step, cancellationToken).ConfigureAwait(false)) break;
                    }
                    while (window.TryNext(out var slot)) yield return Result(window, target, slot, start);
                }
                finally
                {
                    window.Stop();
                }
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
        using var call = calls.Enter();
        using var scope = NewDisposeScope();
        using var output = Encode(inputs);
        int[]? prompts = promptLength > 0 ? Enumerable.Repeat(promptLength, inputs.BatchSize).ToArray() : null;
        return Embeddings.FromTensor(Pool(output, prompts, null, false));
    }

    /// <summary>One forward pass of the pipeline, capturing what its pooling function reads.</summary>
    internal EncoderOutput Encode(EncoderInputs inputs) => Model.Encode(inputs, pipeline.Capture);

    /// <summary>
    /// Pooling, Dense/Normalize modules, truncation (the call's, else the folder's) and the call's normalisation on one
    /// output: a contiguous (B, D) float32 CPU tensor in the caller's dispose scope.
    /// </summary>
    internal Tensor Pool(EncoderOutput output, int[]? promptLengths, int? truncateDimension, bool normalize)
    {
        using var _ = no_grad();
        Tensor x;
        if (pipeline.PoolingFunction is { } function)
        {
            var e = function(output);
            if (e.Count != output.BatchSize)
                throw new TransformerEmbeddingsException($"The pooling function returned {e.Count} vectors for {output.BatchSize} texts; return one per row of the output.");
            x = e.ToTensor();
        }
        else
        {
            var h = output.LastHiddenState.to(ScalarType.Float32);
            var attention = output.AttentionMask.to(ScalarType.Float32);
            var mask = attention;
            if (promptLengths is not null)
            {
                mask = attention.clone();
                for (var i = 0; i < promptLengths.Length; i++)
                    if (promptLengths[i] > 0) mask[i].narrow(0, 0, Math.Min(promptLengths[i], mask.shape[1])).fill_(Scalars.Zero);
            }
            // sentence-transformers' cls is the row's first token, prompt or not.
            x = PoolingMath.Pool(pipeline.Pooling!, h, mask, attention);
            foreach (var module in pipeline.AfterPooling)
                x = module is null ? L2Normalization.Rows(x) : module.call(x);
        }
        if ((truncateDimension ?? TruncateDimension) is { } t)
        {
            if (t > x.shape[1])
                throw new ArgumentOutOfRangeException(nameof(truncateDimension), t, $"Cannot truncate {x.shape[1]}-dimensional vectors to {t} dimensions.");
            x = x.narrow(1, 0, t);
        }
        if (normalize) x = L2Normalization.Rows(x);
        return x.to(ScalarType.Float32).cpu().contiguous();
    }

    /// <summary>
    /// How many passes of an embedding run go side by side, and on how many threads each (<see cref="BatchOptions.ParallelPasses"/>):
    /// by default one per thread on a CPU with 2–4 threads, unless a pooling function (the caller's code, maybe not
    /// thread-safe) runs after each pass or this libtorch's threads cannot be limited per thread.
    /// </summary>
    internal (int Count, int Threads) ParallelPasses(int? requested)
    {
        var threads = torch.get_num_threads();
        if (requested == 1 || Model.Device.type != DeviceType.CPU || pipeline.PoolingFunction is not null || !Runtime.ComputeThreads.CanLimit)
            return (1, threads);
        var count = requested ?? PassLanes.DefaultLanes(threads);
        return count < 2 ? (1, threads) : (count, Math.Max(1, threads / count));
    }

    /// <summary>Whether the pipeline's vectors are unit length (it ends with Normalize and no truncation follows).</summary>
    internal bool EndsNormalized => pipeline.AfterPooling.Count > 0 && pipeline.AfterPooling[^1] is null && TruncateDimension is null;

    /// <summary>Special tokens the tokenizer adds to one text ([CLS] and [SEP]: 2).</summary>
    internal int SpecialTokenCount => specialTokens ??= Model.Tokenizer.Encode("").Count;

    /// <summary>Leading tokens of a prompt left out of pooling (<c>include_prompt: false</c>): its tokens and the first special token.</summary>
    internal int PromptTokens(string? prompt) =>
        prompt is null || pipeline.IncludePrompt ? 0 : Model.Tokenizer.Encode(Prepare(prompt), MaxSequenceLength).Count - 1;

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
        return pipeline.DoLowerCase ? s.ToLowerInvariant() : s;
    }

    private int Probe()
    {
        using var inputs = EncoderInputs.Create([[Model.Tokenizer.PadTokenId]], Model.Tokenizer.PadTokenId);
        return EmbedBatch(inputs).Dimension;
    }

    /// <summary>
    /// This embedder as a Microsoft.Extensions.AI embedding generator, for vector stores, RAG pipelines and DI. A view:
    /// it does not own the embedder (dispose the embedder, not the generator). Its <see cref="EmbeddingGenerationOptions.Dimensions"/>
    /// truncates and then renormalises, as OpenAI's <c>dimensions</c> does; sentence-transformers' <c>truncate_dim</c>
    /// (<see cref="EmbeddingOptions.TruncateDimension"/>) does not renormalise unless asked to.
    /// </summary>
    /// <returns>The generator.</returns>
    public IEmbeddingGenerator<string, Embedding<float>> AsEmbeddingGenerator() => new SentenceEmbeddingGenerator(this);

    /// <summary>Enters one forward pass and its pooling; <see cref="Dispose"/> waits for it.</summary>
    /// <exception cref="ObjectDisposedException">The embedder is disposed.</exception>
    internal Runtime.CallGuard.Lease EnterCall() => calls.Enter();

    /// <summary>
    /// Releases the Dense weights, and the model when this embedder loaded it. Passes in flight on other threads finish
    /// first (Dispose waits for them); later calls, and streams still being read, throw <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose() => calls.Close(() =>
    {
        foreach (var d in pipeline.AfterPooling) d?.Dispose();
        if (ownsModel) Model.Dispose();
    });
}

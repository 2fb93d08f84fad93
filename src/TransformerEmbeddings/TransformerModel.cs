using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Hub;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Modeling;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Kernels.Linear;
using TransformerEmbeddings.Runtime;
using TransformerEmbeddings.Tokenization;
using TransformerEmbeddings.Weights;
using static TorchSharp.torch;

namespace TransformerEmbeddings;

/// <summary>
/// A HuggingFace encoder (BERT, RoBERTa, XLM-RoBERTa, CamemBERT, DistilBERT, MPNet) with its tokenizer, loaded from a
/// model folder or id: it loads and it encodes.
/// <code>
/// using var model = TransformerModel.Load("google-bert/bert-base-uncased");
/// using var output = model.Encode(["The quick brown fox."]);
/// float[][] vectors = output.Tokens().Mean().Normalize().ToArray();
/// </code>
/// Analysis lives beside it: <see cref="Weights"/>, <see cref="Vocabulary"/>, <see cref="MaskedLanguageModel"/>.
/// Thread-safe for concurrent <c>Encode</c> calls; every call runs without autograd inside its own dispose scope.
/// </summary>
public sealed class TransformerModel : IDisposable
{
    private readonly EncoderModel model;
    private readonly MaskedLanguageModelHead? mlmHead;
    private readonly ILogger logger;
    private readonly CallGuard calls;

    private readonly ComputePlan plan;

    private TransformerModel(string folder, EncoderConfig config, EncoderModel model, MaskedLanguageModelHead? mlmHead, TransformerTokenizer tokenizer,
        CheckpointReport checkpoint, Device device, ComputePlan plan, TimeSpan loadTime, ILogger logger)
    {
        this.mlmHead = mlmHead;
        Folder = folder;
        Config = config;
        this.model = model;
        Tokenizer = tokenizer;
        Checkpoint = checkpoint;
        Device = device;
        this.plan = plan;
        DType = plan.DType;
        LoadTime = loadTime;
        this.logger = logger;
        calls = new CallGuard(this);
        Weights = new ModelWeights(model, config, calls);
        Vocabulary = new Vocabulary(model.WordEmbeddings, tokenizer, config.VocabSize, folder, calls);
        MaskedLanguageModel = mlmHead is null ? null : new MaskedLanguageModel(this, mlmHead);
    }

    /// <summary>The folder the model was loaded from.</summary>
    public string Folder { get; }

    /// <summary>The validated <c>config.json</c>.</summary>
    public EncoderConfig Config { get; }

    /// <summary>The folder's tokenizer.</summary>
    public TransformerTokenizer Tokenizer { get; }

    /// <summary>What loading the weights found: files, prefix, optional heads, unused tensors.</summary>
    public CheckpointReport Checkpoint { get; }

    /// <summary>Where the weights live and the forward pass runs.</summary>
    public Device Device { get; }

    /// <summary>The weights' and activations' numeric type.</summary>
    public ScalarType DType { get; }

    /// <summary>What the forward pass runs on, as chosen at load from <see cref="ModelOptions.Precision"/>, the device and
    /// the CPU's features, e.g. <c>cpu float32, exact (AVX-512 kernels)</c> or <c>cpu float32, linear layers on 12-bit
    /// integers (fast mode: AVX2 kernels)</c>.</summary>
    public string ComputePath => plan.Description;

    /// <summary>How long <see cref="Load"/> took (config, tokenizer, weights).</summary>
    public TimeSpan LoadTime { get; }

    /// <summary>The width of every token vector (hidden_size).</summary>
    public int HiddenSize => Config.HiddenSize;

    /// <summary>The weights, for analysis: embedding tables (lent) and per-layer attention weights (copies).</summary>
    public ModelWeights Weights { get; }

    /// <summary>The vocabulary as vectors: rows of the word-embedding matrix by id or token.</summary>
    public Vocabulary Vocabulary { get; }

    /// <summary>The masked-language-model head (BertForMaskedLM, RobertaForMaskedLM, XLMRobertaForMaskedLM, DistilBertForMaskedLM, MPNetForMaskedLM checkpoints); null when the checkpoint has none.</summary>
    public MaskedLanguageModel? MaskedLanguageModel { get; }

    internal EncoderModel Module => model;

    /// <summary>Loads a HuggingFace model folder: config.json, safetensors weights (single or sharded) and tokenizer files.</summary>
    /// <param name="folder">The model folder, or a HuggingFace model id (<c>org/name</c>, optional <c>@revision</c>) taken from the
    /// cache shared with Python and downloaded when missing (an existing folder always wins; docs/hub.md).</param>
    /// <param name="options">Device, precision, logging; defaults to exact float32 on the CPU.</param>
    /// <returns>The model.</returns>
    /// <exception cref="ModelConfigurationException">config.json is missing, malformed or unsupported.</exception>
    /// <exception cref="WeightLoadingException">A tensor is missing or has the wrong shape.</exception>
    /// <exception cref="SafeTensorsException">A weights file is malformed.</exception>
    /// <exception cref="TokenizerException">The tokenizer files are missing, malformed or unsupported.</exception>
    /// <exception cref="DeviceUnavailableException">The device asked for cannot be used.</exception>
    /// <exception cref="NativeRuntimeException">TorchSharp's native runtime cannot be loaded.</exception>
    /// <exception cref="HubException">A model id cannot be found, downloaded or (offline) is not cached.</exception>
    public static TransformerModel Load(string folder, ModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        options ??= new ModelOptions();
        folder = ModelHub.ResolveForLoad(folder, options);
        var logger = options.Logger ?? NullLogger.Instance;
        if (!Directory.Exists(folder))
            throw new ModelConfigurationException(folder, null, "the model folder does not exist.");

        var clock = Stopwatch.StartNew();
        // libtorch takes a few hundred milliseconds to load: read the config, build the tokenizer and check the weights meanwhile.
        NativeCalls.Bind(Path.Combine(folder, "config.json"));
        var native = NativeRuntime.LoadInBackground();
        var config = EncoderConfig.Load(folder);
        var tokenizer = TransformerTokenizer.Load(folder, new TokenizerOptions { MaxLength = options.MaxLength });
        tokenizer.CheckFits(config);
        using var loader = CheckpointLoader.Open(folder, config.Architecture);
        loader.CheckLayerCount(config.NumHiddenLayers, Path.Combine(folder, "config.json"));
        loader.CheckValues(); // reads every weight once, without libtorch
        ComputeBackend? backend = null;
        if (ComputeDevice.IsCpu(options.Device))
        {
            // The CPU's plan needs no libtorch either: map the packed weights' memory (beside, as huge pages can take
            // the kernel a while) and compile the kernels (beside too: this thread is what the first vector waits for),
            // not in the first forward pass.
            var early = backend = new ComputeBackend(ComputePlan.Resolve(options.Precision, false, options.Cpu ?? CpuFeatures.Current, options.Kernels));
            var values = loader.LayerMatrixValues();
            _ = Task.Run(() => early.ReserveLinearWeights(values));
            if (early.Table is { } table) _ = Task.Run(() => KernelCode.Compile(table.Isa));
        }
        // Still waiting for libtorch: a first encoding now compiles the tokenizer's generic code (~20–30 ms of JIT) that the
        // first pass would otherwise compile after it (one-line te embed: 0.80 → 0.77 s, median of 10). Best effort only:
        // whatever a real text would trip over is reported when a real text is encoded.
        if (!native.IsCompleted)
        {
            try
            {
                _ = tokenizer.Encode("Warm up the tokenizer, 1 2 3.", config.MaxPositionEmbeddings);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                logger.LogDebug(e, "The tokenizer's warm-up encoding failed; the first real text will report it.");
            }
        }
        native.GetAwaiter().GetResult(); // a load failure surfaces here as NativeRuntimeException
        var device = ComputeDevice.Resolve(options.Device);
        backend ??= new ComputeBackend(ComputePlan.Resolve(options.Precision, device.type == DeviceType.CUDA, options.Cpu ?? CpuFeatures.Current, options.Kernels));
        var plan = backend.Plan;
        loader.Into(plan.DType, device);
        EncoderModel module;
        MaskedLanguageModelHead? head;
        IReadOnlyList<CpuLinear> ahead;
        using (no_grad())
        {
            module = EncoderModel.Create(new WeightPath(loader, backend: backend), config);
            ahead = backend.TakePackedLinears(); // the encoder's layers; the MLM head packs when first used
            head = MaskedLanguageModelHead.Load(new WeightPath(loader, outsideBase: true, backend: backend), config, module.WordEmbeddings);
        }
        module.eval();
        head?.eval();
        var report = loader.Report();
        clock.Stop();

        logger.LogInformation("Loaded {Folder} ({Type}, {Layers} layers, hidden {Hidden}) in {Ms:F0} ms; prefix '{Prefix}', pooler {Pooler}; runs on {Path}",
            folder, config.ModelType, config.NumHiddenLayers, config.HiddenSize, clock.Elapsed.TotalMilliseconds, report.KeyPrefix, report.HasPooler, plan.Description);
        if (report.UnusedTensors.Count > 0)
            logger.LogInformation("Tensors not used by the encoder: {Unused}", string.Join(", ", report.UnusedTensors));

        var model = new TransformerModel(Path.GetFullPath(folder), config, module, head, tokenizer, report, device, plan, clock.Elapsed, logger);
        if (ahead.Count > 0) model.PackInBackground(ahead);
        return model;
    }

    /// <summary>
    /// Packs the linear layers' weights on a thread of its own while the caller gets ready (reads its input, tokenizes):
    /// the first forward pass would otherwise pack them itself, layer after layer, with passes side by side waiting for it
    /// (MiniLM fast: ~75 ms). A pass that comes first packs what it needs; disposing the model stops this after the layer
    /// in hand. Best effort: a failure is only logged, and the first pass packs (and reports) as before.
    /// </summary>
    private void PackInBackground(IReadOnlyList<CpuLinear> kernels) => _ = Task.Run(() =>
    {
        try
        {
            using var call = calls.Enter();
            foreach (var kernel in kernels)
            {
                if (calls.IsClosed) return;
                kernel.Prepare(threads: 1);
            }
        }
        catch (ObjectDisposedException)
        {
            // Disposed before the packing started.
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            logger.LogDebug(e, "Packing the weights ahead of the first pass failed; the first pass packs them.");
        }
    });

    /// <summary>The most padded tokens (texts × longest text) one <see cref="Encode(IReadOnlyList{string}, CaptureOptions?, int?)"/>
    /// call runs as a single batch; more is refused (use <see cref="EncodeBatches"/> or <c>SentenceEmbedder</c>).</summary>
    public const int MaxTokensPerEncode = 1 << 17;

    /// <summary>Tokenizes and encodes texts as one right-padded batch (at most <see cref="MaxTokensPerEncode"/> padded tokens).</summary>
    /// <param name="texts">The texts.</param>
    /// <param name="capture">Which internals to keep; nothing by default.</param>
    /// <param name="maxLength">A token limit for this call; the tokenizer's default when null.</param>
    /// <returns>The output, which owns its tensors: dispose it.</returns>
    /// <exception cref="ArgumentException">The padded batch would exceed <see cref="MaxTokensPerEncode"/> tokens.</exception>
    public EncoderOutput Encode(IReadOnlyList<string> texts, CaptureOptions? capture = null, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var tokens = Tokenizer.EncodeBatch(texts, maxLength);
        Pipelines.BatchEncoding.CheckSingleBatch(tokens);
        using var inputs = EncoderInputs.Create(tokens, Tokenizer.PadTokenId);
        return Encode(inputs, capture);
    }

    /// <summary>
    /// Encodes any number of texts in forward passes by a token budget, longest first within each sort window, one
    /// output per pass with the input positions of its rows; memory stays bounded by the window. Dispose each batch.
    /// </summary>
    /// <param name="texts">The texts, read once.</param>
    /// <param name="batching">Token budget, texts per pass, sort window; the defaults when null.</param>
    /// <param name="capture">Which internals to keep; nothing by default.</param>
    /// <param name="maxLength">A token limit; the tokenizer's default when null.</param>
    /// <returns>The passes, in the order they run.</returns>
    public IEnumerable<Pipelines.EncodedBatch> EncodeBatches(IEnumerable<string> texts, Pipelines.BatchOptions? batching = null,
        CaptureOptions? capture = null, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        return Pipelines.BatchEncoding.Run(this, texts, batching ?? Pipelines.BatchOptions.Default, capture, maxLength);
    }

    /// <summary>Tokenizes and encodes text pairs (<c>[CLS] a [SEP] b [SEP]</c>) as one right-padded batch.</summary>
    /// <param name="pairs">The pairs.</param>
    /// <param name="capture">Which internals to keep; nothing by default.</param>
    /// <param name="maxLength">A token limit for this call; the tokenizer's default when null.</param>
    /// <returns>The output, which owns its tensors: dispose it.</returns>
    public EncoderOutput Encode(IReadOnlyList<(string Text, string Pair)> pairs, CaptureOptions? capture = null, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var tokens = Tokenizer.EncodeBatch(pairs, maxLength);
        Pipelines.BatchEncoding.CheckSingleBatch(tokens);
        using var inputs = EncoderInputs.Create(tokens, Tokenizer.PadTokenId);
        return Encode(inputs, capture);
    }

    /// <summary>Encodes a batch that is already tokenized and padded (<see cref="EncoderInputs.Create(IReadOnlyList{TokenizedText}, int)"/>).</summary>
    /// <param name="inputs">The batch; the caller keeps it.</param>
    /// <param name="capture">Which internals to keep; nothing by default.</param>
    /// <returns>The output, which owns its tensors: dispose it.</returns>
    /// <exception cref="ArgumentException">A sequence is longer than the position table allows, or an id is outside the vocabulary.</exception>
    public EncoderOutput Encode(EncoderInputs inputs, CaptureOptions? capture = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        inputs.Validate(Config);
        return Run(inputs.InputIds, null, inputs.AttentionMask, inputs.TokenTypeIds, inputs.Tokenization, capture ?? CaptureOptions.Nothing);
    }

    /// <summary>
    /// Encodes caller-given input vectors instead of token ids (HF <c>inputs_embeds</c>): each row replaces
    /// <c>E[input_id]</c>; position and token-type embeddings (where the family has them) and the LayerNorm still apply.
    /// </summary>
    /// <param name="inputsEmbeds">(B, S, H) vectors.</param>
    /// <param name="attentionMask">(B, S) 1 on real positions, 0 on padding; all ones when null.</param>
    /// <param name="tokenTypeIds">(B, S) segment ids; zeros when null.</param>
    /// <param name="capture">Which internals to keep.</param>
    /// <returns>The output, which owns its tensors: dispose it. It cannot <see cref="EncoderOutput.EnsureCaptured"/>: capture what you need here.</returns>
    public EncoderOutput EncodeEmbeddings(Tensor inputsEmbeds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null, CaptureOptions? capture = null)
    {
        ArgumentNullException.ThrowIfNull(inputsEmbeds);
        if (inputsEmbeds.dim() != 3 || inputsEmbeds.shape[2] != Config.HiddenSize)
            throw new ArgumentException($"inputs_embeds must be (B, S, {Config.HiddenSize}); found ({string.Join(", ", inputsEmbeds.shape)}).", nameof(inputsEmbeds));
        var (b, s) = (inputsEmbeds.shape[0], inputsEmbeds.shape[1]);
        EncoderInputs.CheckLength(s, Config);
        using var scope = NewDisposeScope();
        var mask = attentionMask?.to(ScalarType.Int64) ?? ones(b, s, ScalarType.Int64);
        var types = tokenTypeIds?.to(ScalarType.Int64) ?? zeros(b, s, ScalarType.Int64);
        using var pad = Tokenizer.PadTokenId.ToScalar();
        var ids = full(b, s, pad, ScalarType.Int64);
        var output = Run(ids, inputsEmbeds, mask, types, null, capture ?? CaptureOptions.Nothing);
        return output;
    }

    private EncoderOutput Run(Tensor inputIds, Tensor? inputsEmbeds, Tensor attentionMask, Tensor tokenTypeIds,
        IReadOnlyList<TokenizedText>? tokenization, CaptureOptions capture)
    {
        using var call = calls.Enter(); // Dispose waits for this pass
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var ids = inputIds.to(Device);
        var mask = attentionMask.to(Device);
        var types = tokenTypeIds.to(Device);
        var positions = model.PositionIds(mask);
        var trace = capture.Kinds == ActivationKind.None && !capture.Perturbs
            ? null
            : new ForwardTrace(capture, Config.NumHiddenLayers, Config.NumAttentionHeads, Device);
        var embeds = inputsEmbeds?.to(DType, Device);
        var (last, pooled) = model.forward(embeds is null ? ids : null, embeds, mask, types, positions, trace);

        var captured = trace?.Captured ?? new Dictionary<string, Tensor>(StringComparer.Ordinal);
        // Inputs are cloned so the output never aliases tensors the caller may dispose.
        var keep = new List<Tensor> { ids.clone(), mask.clone(), types.clone(), positions.contiguous(), last };
        if (pooled is not null) keep.Add(pooled);
        keep.AddRange(captured.Values);
        scope.Detach(keep.Cast<IDisposable>().ToArray());
        // The output's own copies of the inputs, so a later re-run never touches tensors the caller disposed.
        EncoderOutput Rerun(CaptureOptions more) => Run(keep[0], null, keep[1], keep[2], tokenization, more);
        return new EncoderOutput(Config, keep[0], keep[1], keep[2], keep[3], last, pooled, captured, tokenization, capture, keep.Distinct(),
            inputsEmbeds is null ? Rerun : null);
    }

    /// <summary>Enters a call that reads the weights (analysis beside the forward pass); <see cref="Dispose"/> waits for it.</summary>
    /// <exception cref="ObjectDisposedException">The model is disposed.</exception>
    internal CallGuard.Lease EnterCall() => calls.Enter();

    /// <summary>
    /// Releases the weights. Calls in flight on other threads finish first (Dispose waits for them); calls made afterwards
    /// throw <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose() => calls.Close(() =>
    {
        mlmHead?.Dispose();
        model.Dispose();
    });
}

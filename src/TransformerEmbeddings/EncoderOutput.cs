using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Modeling;
using TransformerEmbeddings.Tokenization;
using static TorchSharp.torch;

namespace TransformerEmbeddings;

/// <summary>
/// The result of one forward pass: the padded inputs, the last hidden state, the pooler output and every internal
/// that was asked for (<see cref="CaptureOptions"/>), by accessor or by name (<c>hidden_states.3</c>, <c>attentions.-1</c>).
/// It owns its tensors: dispose it, and never dispose a tensor it lends you (they live as long as it does); the managed
/// accessors (<see cref="TokenVector"/>, <see cref="AttentionPattern"/>, <see cref="ToMatrix"/>) copy what you keep.
/// Pooling starts here: <c>output.Tokens().Mean()</c>, <c>output.HiddenStates(^4..).Mean()</c>.
/// </summary>
/// <remarks>
/// Two index spaces, one word each (docs/architecture.md): a <c>layer</c> is a block, 0..L-1; a <c>hiddenState</c> is
/// 0..L, 0 the embeddings output and l + 1 the output of layer l (HF <c>hidden_states</c>). Negative numbers count from
/// the end in both (layer -1 is the last block, hidden state -1 the last hidden state). Asking for something that was not
/// captured throws <see cref="NotCapturedException"/>; only <see cref="EnsureCaptured"/> runs the pass again. Compare
/// positions only where <see cref="AttentionMask"/> is 1: padding is not data.
/// </remarks>
public sealed class EncoderOutput : IDisposable
{
    private readonly Dictionary<string, Tensor> captured;
    private readonly List<IDisposable> owned;
    private readonly Func<CaptureOptions, EncoderOutput>? rerun;
    private bool disposed;

    internal EncoderOutput(
        EncoderConfig config, Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds, Tensor positionIds,
        Tensor lastHiddenState, Tensor? poolerOutput, Dictionary<string, Tensor> captured,
        IReadOnlyList<TokenizedText>? tokenization, CaptureOptions capture, IEnumerable<IDisposable> owned,
        Func<CaptureOptions, EncoderOutput>? rerun = null)
    {
        this.rerun = rerun;
        Config = config;
        InputIds = inputIds;
        AttentionMask = attentionMask;
        TokenTypeIds = tokenTypeIds;
        PositionIds = positionIds;
        LastHiddenState = lastHiddenState;
        PoolerOutput = poolerOutput;
        this.captured = captured;
        Tokenization = tokenization;
        Capture = capture;
        this.owned = owned.ToList();
    }

    /// <summary>The model's configuration.</summary>
    public EncoderConfig Config { get; }

    /// <summary>What the forward pass captured (grown by <see cref="EnsureCaptured"/>).</summary>
    public CaptureOptions Capture { get; private set; }

    /// <summary>(B, S) int64 token ids, right-padded.</summary>
    public Tensor InputIds { get; }

    /// <summary>(B, S) int64: 1 on real tokens, 0 on padding.</summary>
    public Tensor AttentionMask { get; }

    /// <summary>(B, S) int64 segment ids (as the tokenizer gave them; DistilBERT and MPNet models ignore them).</summary>
    public Tensor TokenTypeIds { get; }

    /// <summary>(B, S) int64 position ids as the model used them (RoBERTa's and MPNet's start after the padding index).</summary>
    public Tensor PositionIds { get; }

    /// <summary>(B, S, H) HF <c>last_hidden_state</c>; the same tensor as <c>HiddenState(-1)</c>.</summary>
    public Tensor LastHiddenState { get; }

    /// <summary>(B, H) HF <c>pooler_output</c>: tanh(dense(h[:, 0])); null when the checkpoint has no pooler.</summary>
    public Tensor? PoolerOutput { get; }

    /// <summary>The tokenization of each row (tokens, offsets, word ids) when the batch came from text; null when it was made from ids.</summary>
    public IReadOnlyList<TokenizedText>? Tokenization { get; }

    /// <summary>B.</summary>
    public int BatchSize => (int)InputIds.shape[0];

    /// <summary>S, the padded length.</summary>
    public int SequenceLength => (int)InputIds.shape[1];

    /// <summary>L, the number of layers (blocks); there are L + 1 hidden states.</summary>
    public int LayerCount => Config.NumHiddenLayers;

    /// <summary>Names of the captured internals, as in <c>../shared/README.md</c> and <c>te dump</c>.</summary>
    public IReadOnlyCollection<string> CapturedNames => captured.Keys;

    /// <summary>A tensor by name; its index may be negative (<c>attentions.-1</c>). Lent: do not dispose it.</summary>
    /// <param name="name">For example <c>hidden_states.0</c>, <c>query.3</c>, <c>word_embeddings</c>, <c>last_hidden_state</c>, <c>input_ids</c>.</param>
    /// <exception cref="ArgumentException">No forward pass has a tensor of that name, or its index does not exist.</exception>
    /// <exception cref="NotCapturedException">It was not captured; the message says what to capture.</exception>
    public Tensor this[string name]
    {
        get
        {
            var (point, index) = HookPoint.Parse(name, LayerCount);
            return Get(point, index);
        }
    }

    /// <summary>Whether this output holds the tensor <paramref name="name"/>.</summary>
    /// <param name="name">A tensor name, index negative from the end allowed.</param>
    /// <returns>True when present.</returns>
    public bool Has(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        try
        {
            var (point, index) = HookPoint.Parse(name, LayerCount);
            return Holds(point, index);
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Hidden state <paramref name="hiddenState"/>, (B, S, H): 0 the embeddings output, l + 1 the output of layer l. Lent.</summary>
    /// <param name="hiddenState">0..L, or negative from the end (-1: <see cref="LastHiddenState"/>, always present).</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="NotCapturedException">It is not the last and <see cref="ActivationKind.HiddenStates"/> was not captured.</exception>
    public Tensor HiddenState(int hiddenState) => Get(HookPoint.HiddenStates, LayerIndex.HiddenState(hiddenState, LayerCount, nameof(hiddenState)));

    /// <summary>Attention probabilities of a layer, (B, heads, S, S); exactly 0 on padded keys. Lent.</summary>
    /// <param name="layer">0..L-1, negative from the end.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="NotCapturedException"><see cref="ActivationKind.Attentions"/> was not captured for this layer.</exception>
    public Tensor Attentions(int layer) => Get(HookPoint.Attentions, Layer(layer));

    /// <summary>Query projections of a layer per head, (B, heads, S, head_dim). Lent.</summary>
    /// <param name="layer">0..L-1, negative from the end.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="NotCapturedException"><see cref="ActivationKind.Queries"/> was not captured for this layer.</exception>
    public Tensor Queries(int layer) => Get(HookPoint.Queries, Layer(layer));

    /// <summary>Key projections of a layer per head, (B, heads, S, head_dim). Lent.</summary>
    /// <param name="layer">0..L-1, negative from the end.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="NotCapturedException"><see cref="ActivationKind.Keys"/> was not captured for this layer.</exception>
    public Tensor Keys(int layer) => Get(HookPoint.Keys, Layer(layer));

    /// <summary>Value projections of a layer per head, (B, heads, S, head_dim). Lent.</summary>
    /// <param name="layer">0..L-1, negative from the end.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="NotCapturedException"><see cref="ActivationKind.Values"/> was not captured for this layer.</exception>
    public Tensor Values(int layer) => Get(HookPoint.Values, Layer(layer));

    /// <summary>Per-head context (attentions @ value) of a layer, (B, heads, S, head_dim); TransformerLens <c>hook_z</c>. Lent.</summary>
    /// <param name="layer">0..L-1, negative from the end.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="NotCapturedException"><see cref="ActivationKind.Contexts"/> was not captured for this layer.</exception>
    public Tensor Contexts(int layer) => Get(HookPoint.Contexts, Layer(layer));

    /// <summary>The attention block's output after its LayerNorm, (B, S, H). Lent.</summary>
    /// <param name="layer">0..L-1, negative from the end.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="NotCapturedException"><see cref="ActivationKind.AttentionOutputs"/> was not captured for this layer.</exception>
    public Tensor AttentionOutput(int layer) => Get(HookPoint.AttentionOutputs, Layer(layer));

    /// <summary>Feed-forward activations after the activation function, (B, S, I). Lent.</summary>
    /// <param name="layer">0..L-1, negative from the end.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="NotCapturedException"><see cref="ActivationKind.Intermediates"/> was not captured for this layer.</exception>
    public Tensor Intermediate(int layer) => Get(HookPoint.Intermediates, Layer(layer));

    /// <summary>Raw rows of the word-embedding matrix for the inputs, E[input_ids], (B, S, H). Lent.</summary>
    /// <exception cref="NotCapturedException"><see cref="ActivationKind.WordEmbeddings"/> was not captured.</exception>
    public Tensor WordEmbeddings => Get(HookPoint.WordEmbeddings, 0);

    /// <summary>The number of real (non-padding) tokens of row <paramref name="sequence"/>.</summary>
    /// <param name="sequence">The row.</param>
    /// <returns>The length.</returns>
    public int Length(int sequence)
    {
        CheckSequence(sequence);
        using var scope = NewDisposeScope();
        return (int)AttentionMask[sequence].sum().item<long>();
    }

    /// <summary>The index of the token that covers UTF-16 position <paramref name="charIndex"/> of the text of row <paramref name="sequence"/>, or -1.</summary>
    /// <param name="sequence">The row.</param>
    /// <param name="charIndex">A position in the input string.</param>
    /// <param name="sequenceId">For pairs: 0 for the first text, 1 for the second.</param>
    /// <returns>The token index, or -1 when no token covers it (whitespace, or a truncated part).</returns>
    /// <exception cref="NotCapturedException">The batch was made from ids, so there is no tokenization.</exception>
    public int TokenAt(int sequence, int charIndex, int sequenceId = 0)
    {
        var t = RequireTokenization(sequence);
        for (var i = 0; i < t.Count; i++)
        {
            if (t.SequenceIds[i] == sequenceId && t.Offsets[i].Start <= charIndex && charIndex < t.Offsets[i].End) return i;
        }
        return -1;
    }

    /// <summary>The token indices of word <paramref name="word"/> of row <paramref name="sequence"/> (the tokenizer's word ids).</summary>
    /// <param name="sequence">The row.</param>
    /// <param name="word">The word id.</param>
    /// <param name="sequenceId">For pairs: 0 for the first text, 1 for the second.</param>
    /// <returns>The token indices, ascending; empty when the word does not exist.</returns>
    /// <exception cref="NotCapturedException">The batch was made from ids, so there is no tokenization.</exception>
    public IReadOnlyList<int> TokensOfWord(int sequence, int word, int sequenceId = 0)
    {
        var t = RequireTokenization(sequence);
        var list = new List<int>();
        for (var i = 0; i < t.Count; i++)
        {
            if (t.WordIds[i] == word && t.SequenceIds[i] == sequenceId) list.Add(i);
        }
        return list;
    }

    /// <summary>A copy of one token's vector at hidden state <paramref name="hiddenState"/> (default: the last).</summary>
    /// <param name="sequence">The row.</param>
    /// <param name="token">The token index (see <see cref="TokenAt"/> and <see cref="TokensOfWord"/>); real tokens only.</param>
    /// <param name="hiddenState">0 the embeddings output, l + 1 the output of layer l, -1 the last.</param>
    /// <returns>H floats.</returns>
    public float[] TokenVector(int sequence, int token, int hiddenState = -1)
    {
        var states = HiddenState(hiddenState);
        CheckToken(sequence, token);
        using var scope = NewDisposeScope();
        return ToArray(states[sequence, token]);
    }

    /// <summary>
    /// A copy of one head's attention pattern for one row over its real tokens (padding cut off):
    /// <c>pattern[i, j]</c> is how much token i attends to token j.
    /// </summary>
    /// <param name="layer">0..L-1, negative from the end.</param>
    /// <param name="head">The head.</param>
    /// <param name="sequence">The row.</param>
    /// <returns>(tokens, tokens), rows summing to 1.</returns>
    public float[,] AttentionPattern(int layer, int head, int sequence) => Matrix(HookPoint.Attentions, Layer(layer), sequence, head);

    /// <summary>
    /// A copy of any tensor of this output for one row over its real tokens, as a managed matrix: (tokens, features) for
    /// hidden states, word embeddings, attention outputs and intermediates; one head's (tokens, head_dim) for query, key,
    /// value and context, and its (tokens, tokens) for attentions.
    /// </summary>
    /// <param name="name">A tensor name, e.g. <c>hidden_states.-1</c>, <c>context.3</c>, <c>intermediate.0</c>.</param>
    /// <param name="sequence">The row.</param>
    /// <param name="head">The head, for per-head tensors.</param>
    /// <returns>The values.</returns>
    /// <exception cref="ArgumentException">The name is not a per-token tensor (ids, masks and the pooler output are not).</exception>
    /// <exception cref="NotCapturedException">It was not captured.</exception>
    public float[,] ToMatrix(string name, int sequence, int head = 0)
    {
        var (point, index) = HookPoint.Parse(name, LayerCount);
        return Matrix(point, index, sequence, head);
    }

    private float[,] Matrix(HookPoint point, int index, int sequence, int head)
    {
        var t = Get(point, index);
        var n = Length(sequence);
        using var scope = NewDisposeScope();
        Tensor slice;
        if (point.PerHead)
        {
            if (head < 0 || head >= t.shape[1])
                throw new ArgumentOutOfRangeException(nameof(head), head, $"The model has {t.shape[1]} heads per layer (0..{t.shape[1] - 1}).");
            slice = t[sequence, head, ..n];
            if (point == HookPoint.Attentions) slice = slice[.., ..n];
        }
        else if (t.dim() == 3) slice = t[sequence, ..n];
        else throw new ArgumentException($"'{point.Name}' is not a per-token tensor; read it with output[\"{point.Name}\"].", nameof(point));
        var flat = ToArray(slice);
        var result = new float[n, flat.Length / Math.Max(n, 1)];
        Buffer.BlockCopy(flat, 0, result, 0, flat.Length * sizeof(float));
        return result;
    }

    /// <summary>
    /// Makes sure <paramref name="kinds"/> are captured for every layer, running the forward pass again on the same
    /// inputs (same perturbations) when they were not asked for at first. The one way this library re-runs a pass: call it
    /// when you want that, or capture what you need when encoding.
    /// </summary>
    /// <param name="kinds">The internals needed.</param>
    /// <exception cref="NotCapturedException">They are missing and this output cannot re-run (it was made from <c>inputs_embeds</c>).</exception>
    public void EnsureCaptured(ActivationKind kinds)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var missing = kinds & ~Capture.Kinds;
        if (missing == ActivationKind.None && Capture.Layers is null) return;
        if (rerun is null)
            throw new NotCapturedException(kinds.ToString(),
                $"This output did not capture {kinds} for every layer and cannot re-run (it was made from inputs_embeds); encode with new CaptureOptions {{ Kinds = {Flags(kinds)} }}.");
        var options = Capture with { Kinds = Capture.Kinds | kinds, Layers = null };
        var again = rerun(options);
        // Take ownership of the new captures; identical inputs give identical activations.
        foreach (var (name, t) in again.captured)
        {
            if (!captured.TryAdd(name, t)) continue;
            owned.Add(t);
            again.owned.Remove(t);
        }
        again.captured.Clear();
        again.Dispose();
        Capture = options;
    }

    /// <summary>Copies a tensor (any shape) to a managed float32 array, row-major; call inside a dispose scope.</summary>
    internal static float[] ToArray(Tensor t) => t.detach().to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();

    /// <summary>The tokenization of a row, or a <see cref="NotCapturedException"/> for a batch made from ids.</summary>
    internal TokenizedText RequireTokenization(int sequence)
    {
        if (Tokenization is null)
            throw new NotCapturedException("tokenization",
                "This output was made from ids, not text, so it has no tokenization (tokens, offsets, word ids, special tokens); encode the texts with model.Encode(texts).");
        CheckSequence(sequence);
        return Tokenization[sequence];
    }

    /// <summary>Whether <paramref name="point"/> at a resolved index is held.</summary>
    internal bool Holds(HookPoint point, int index)
    {
        if (point == HookPoint.PoolerOutput) return PoolerOutput is not null;
        if (point.Kind == ActivationKind.None) return true;
        return captured.ContainsKey(point.NameAt(index)) || (point == HookPoint.HiddenStates && index == LayerCount);
    }

    /// <summary>A tensor by point and resolved index.</summary>
    internal Tensor Get(HookPoint point, int index)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (point == HookPoint.InputIds) return InputIds;
        if (point == HookPoint.AttentionMask) return AttentionMask;
        if (point == HookPoint.TokenTypeIds) return TokenTypeIds;
        if (point == HookPoint.PositionIds) return PositionIds;
        if (point == HookPoint.LastHiddenState) return LastHiddenState;
        if (point == HookPoint.PoolerOutput)
            return PoolerOutput ?? throw new NotCapturedException(point.Name, "This checkpoint has no pooler (pooler.dense.*), so there is no pooler_output.");
        var name = point.NameAt(index);
        if (captured.TryGetValue(name, out var t)) return t;
        if (point == HookPoint.HiddenStates && index == LayerCount) return LastHiddenState;
        var layerFiltered = Capture.Layers is not null && point.LayerOf(index) >= 0 && (Capture.Kinds & point.Kind) != 0;
        throw new NotCapturedException(name,
            $"'{name}' was not captured. Encode with new CaptureOptions {{ Kinds = {Flags(point.Kind)}{(layerFiltered ? $", Layers = [..., {point.LayerOf(index)}]" : "")} }}, " +
            $"or call output.EnsureCaptured({Flags(point.Kind)}) to run this batch again; captured: {(captured.Count == 0 ? "nothing" : string.Join(", ", captured.Keys.Order(StringComparer.Ordinal)))}.");
    }

    private static string Flags(ActivationKind kinds) => string.Join(" | ", kinds.ToString().Split(", ").Select(k => "ActivationKind." + k));

    private int Layer(int layer) => LayerIndex.Layer(layer, LayerCount, nameof(layer));

    private void CheckSequence(int sequence)
    {
        if (sequence < 0 || sequence >= BatchSize)
            throw new ArgumentOutOfRangeException(nameof(sequence), sequence, $"The batch has {BatchSize} rows (0..{BatchSize - 1}).");
    }

    private void CheckToken(int sequence, int token)
    {
        var n = Length(sequence);
        if (token < 0 || token >= n)
            throw new ArgumentOutOfRangeException(nameof(token), token, $"Row {sequence} has {n} real tokens (0..{n - 1}); later positions are padding.");
    }

    /// <summary>Releases every tensor this object owns.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var d in owned) d.Dispose();
        owned.Clear();
        captured.Clear();
    }
}

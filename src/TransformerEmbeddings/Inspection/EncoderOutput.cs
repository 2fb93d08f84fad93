using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Modeling;
using TransformerEmbeddings.Tokenization;
using static TorchSharp.torch;

namespace TransformerEmbeddings;

/// <summary>
/// The result of one forward pass: the padded inputs, the last hidden state, the pooler output and every internal
/// that was asked for, by name (<c>hidden_states.3</c>, <c>attentions.-1</c>, ...). It owns all of its tensors:
/// dispose it, and do not dispose the tensors it hands out. Pooling starts here (<c>LastLayer()</c>, <c>Layers(..)</c>).
/// </summary>
/// <remarks>
/// Index conventions, stated once: layer 0 is the first block; hidden state 0 is the embeddings output and hidden
/// state l + 1 the output of layer l; negative numbers count from the end (layer -1 is the last block, hidden state -1
/// the last hidden state). Compare positions only where <see cref="AttentionMask"/> is 1: padding is not data.
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

    /// <summary>What was asked to be captured.</summary>
    public CaptureOptions Capture { get; private set; }

    /// <summary>(B, S) int64 token ids, right-padded.</summary>
    public Tensor InputIds { get; }

    /// <summary>(B, S) int64: 1 on real tokens, 0 on padding.</summary>
    public Tensor AttentionMask { get; }

    /// <summary>(B, S) int64 segment ids (as the tokenizer gave them; DistilBERT and MPNet models ignore them).</summary>
    public Tensor TokenTypeIds { get; }

    /// <summary>(B, S) int64 position ids as the model used them (RoBERTa's and MPNet's start after the padding index).</summary>
    public Tensor PositionIds { get; }

    /// <summary>(B, S, H) HF <c>last_hidden_state</c>.</summary>
    public Tensor LastHiddenState { get; }

    /// <summary>(B, H) HF <c>pooler_output</c>: tanh(dense(h[:, 0])); null when the checkpoint has no pooler.</summary>
    public Tensor? PoolerOutput { get; }

    /// <summary>The tokenization of each row, when the batch came from text: tokens, offsets and word ids.</summary>
    public IReadOnlyList<TokenizedText>? Tokenization { get; }

    /// <summary>B.</summary>
    public int BatchSize => (int)InputIds.shape[0];

    /// <summary>S, the padded length.</summary>
    public int SequenceLength => (int)InputIds.shape[1];

    /// <summary>The number of blocks.</summary>
    public int LayerCount => Config.NumHiddenLayers;

    /// <summary>Names of the captured tensors, as in <c>../shared/README.md</c>.</summary>
    public IReadOnlyCollection<string> CapturedNames => captured.Keys;

    /// <summary>A captured tensor by name; layer numbers in the name may be negative (<c>attentions.-1</c>).</summary>
    /// <param name="name">For example <c>hidden_states.0</c>, <c>query.3</c>, <c>word_embeddings</c>, <c>last_hidden_state</c>.</param>
    /// <exception cref="KeyNotFoundException">It was not captured; the message says what to ask for.</exception>
    public Tensor this[string name] => Get(Canonical(name));

    /// <summary>Whether <paramref name="name"/> was captured.</summary>
    /// <param name="name">A tensor name.</param>
    /// <returns>True when present.</returns>
    public bool Has(string name)
    {
        try
        {
            var c = Canonical(name);
            return c is "last_hidden_state" or "input_ids" or "attention_mask" or "token_type_ids" or "position_ids"
                   || (c == "pooler_output" && PoolerOutput is not null) || captured.ContainsKey(c);
        }
        catch (ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    /// <summary>Hidden state <paramref name="index"/>: 0 the embeddings output, l + 1 the output of layer l; -1 the last. (B, S, H)</summary>
    /// <param name="index">0..L, or negative from the end.</param>
    /// <returns>The tensor (owned by this object).</returns>
    public Tensor HiddenState(int index)
    {
        var i = index < 0 ? LayerCount + 1 + index : index;
        if (i < 0 || i > LayerCount)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"Hidden states run 0..{LayerCount} (or -{LayerCount + 1}..-1).");
        return i == LayerCount ? LastHiddenState : Get($"hidden_states.{i}");
    }

    /// <summary>Attention probabilities of a layer, (B, heads, S, S); exactly 0 on padded keys.</summary>
    /// <param name="layer">The layer, negative from the end.</param>
    /// <returns>The tensor (owned by this object).</returns>
    public Tensor Attentions(int layer) => Get($"attentions.{L(layer)}");

    /// <summary>Query projections of a layer per head, (B, heads, S, head_dim).</summary>
    /// <param name="layer">The layer, negative from the end.</param>
    /// <returns>The tensor (owned by this object).</returns>
    public Tensor Queries(int layer) => Get($"query.{L(layer)}");

    /// <summary>Key projections of a layer per head, (B, heads, S, head_dim).</summary>
    /// <param name="layer">The layer, negative from the end.</param>
    /// <returns>The tensor (owned by this object).</returns>
    public Tensor Keys(int layer) => Get($"key.{L(layer)}");

    /// <summary>Value projections of a layer per head, (B, heads, S, head_dim).</summary>
    /// <param name="layer">The layer, negative from the end.</param>
    /// <returns>The tensor (owned by this object).</returns>
    public Tensor Values(int layer) => Get($"value.{L(layer)}");

    /// <summary>Per-head context (attentions @ value) of a layer, (B, heads, S, head_dim); TransformerLens <c>hook_z</c>.</summary>
    /// <param name="layer">The layer, negative from the end.</param>
    /// <returns>The tensor (owned by this object).</returns>
    public Tensor Contexts(int layer) => Get($"context.{L(layer)}");

    /// <summary>The attention block's output after its LayerNorm, (B, S, H).</summary>
    /// <param name="layer">The layer, negative from the end.</param>
    /// <returns>The tensor (owned by this object).</returns>
    public Tensor AttentionOutput(int layer) => Get($"attention_output.{L(layer)}");

    /// <summary>Feed-forward activations after the activation function, (B, S, I).</summary>
    /// <param name="layer">The layer, negative from the end.</param>
    /// <returns>The tensor (owned by this object).</returns>
    public Tensor Intermediate(int layer) => Get($"intermediate.{L(layer)}");

    /// <summary>Raw rows of the word-embedding matrix for the inputs, E[input_ids], (B, S, H).</summary>
    public Tensor WordEmbeddings => Get("word_embeddings");

    /// <summary>The number of real (non-padding) tokens of row <paramref name="sequence"/>.</summary>
    /// <param name="sequence">The row.</param>
    /// <returns>The length.</returns>
    public int Length(int sequence) => (int)AttentionMask[sequence].sum().item<long>();

    /// <summary>The index of the token that covers UTF-16 position <paramref name="charIndex"/> of the text of row <paramref name="sequence"/>, or -1.</summary>
    /// <param name="sequence">The row.</param>
    /// <param name="charIndex">A position in the input string.</param>
    /// <param name="sequenceId">For pairs: 0 for the first text, 1 for the second.</param>
    /// <returns>The token index, or -1 when no token covers it (whitespace, or a truncated part).</returns>
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

    /// <summary>The vector of one token as a managed array: hidden state <paramref name="hiddenState"/> (default: the last).</summary>
    /// <param name="sequence">The row.</param>
    /// <param name="token">The token index (see <see cref="TokenAt"/> and <see cref="TokensOfWord"/>).</param>
    /// <param name="hiddenState">0 the embeddings output, l + 1 the output of layer l, -1 the last.</param>
    /// <returns>H floats.</returns>
    public float[] TokenVector(int sequence, int token, int hiddenState = -1)
    {
        CheckPosition(sequence, token);
        return ToArray(HiddenState(hiddenState)[sequence, token]);
    }

    /// <summary>
    /// One head's attention pattern for one row as a managed [queries, keys] array over the real tokens only
    /// (padding cut off): <c>pattern[i, j]</c> is how much token i attends to token j.
    /// </summary>
    /// <param name="layer">The layer, negative from the end.</param>
    /// <param name="head">The head.</param>
    /// <param name="sequence">The row.</param>
    /// <returns>The pattern, rows summing to 1.</returns>
    public float[,] AttentionPattern(int layer, int head, int sequence)
    {
        var probs = Attentions(layer);
        if (head < 0 || head >= probs.shape[1])
            throw new ArgumentOutOfRangeException(nameof(head), head, $"The model has {probs.shape[1]} heads per layer.");
        var n = Length(sequence);
        var flat = ToArray(probs[sequence, head, ..n, ..n]);
        var result = new float[n, n];
        Buffer.BlockCopy(flat, 0, result, 0, flat.Length * sizeof(float));
        return result;
    }

    private void CheckPosition(int sequence, int token)
    {
        if (sequence < 0 || sequence >= BatchSize)
            throw new ArgumentOutOfRangeException(nameof(sequence), sequence, $"The batch has {BatchSize} rows.");
        var n = Length(sequence);
        if (token < 0 || token >= n)
            throw new ArgumentOutOfRangeException(nameof(token), token, $"Row {sequence} has {n} real tokens (0..{n - 1}); later positions are padding.");
    }

    /// <summary>Copies a (…, D) slice of any tensor to a managed array (float32).</summary>
    /// <param name="t">A tensor, usually one of this object's.</param>
    /// <returns>The values, row-major.</returns>
    public static float[] ToArray(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.detach().to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
    }

    internal TokenizedText RequireTokenization(int sequence)
    {
        if (Tokenization is null)
            throw new InvalidOperationException("This output was made from ids, not text; token and word lookups need the tokenization (use Encode(texts)).");
        return Tokenization[sequence];
    }

    private int L(int layer) => LayerIndex.Normalize(layer, LayerCount, nameof(layer));

    private string Canonical(string name)
    {
        var dot = name.LastIndexOf('.');
        if (dot > 0 && int.TryParse(name.AsSpan(dot + 1), out var n) && n < 0)
        {
            var kind = name[..dot];
            var count = kind == "hidden_states" ? LayerCount + 1 : LayerCount;
            var resolved = n + count;
            if (resolved < 0) throw new ArgumentOutOfRangeException(nameof(name), name, $"'{name}' counts past the first of {count}.");
            return $"{kind}.{resolved}";
        }
        return name;
    }

    /// <summary>
    /// Makes sure <paramref name="kinds"/> are captured for every layer, running the forward pass again (same inputs,
    /// same perturbations) when they were not asked for at first. Poolings that need more than the last layer call it.
    /// </summary>
    /// <param name="kinds">The internals needed.</param>
    /// <exception cref="InvalidOperationException">They are missing and this output cannot re-run its forward pass.</exception>
    public void EnsureCaptured(ActivationKind kinds)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var missing = kinds & ~Capture.Kinds;
        if (missing == ActivationKind.None && Capture.Layers is null) return;
        if (rerun is null)
            throw new InvalidOperationException(
                $"This output did not capture {kinds} for every layer and cannot re-run; pass CaptureOptions with Kinds = {kinds} when encoding.");
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

    private Tensor Get(string name)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        switch (name)
        {
            case "last_hidden_state": return LastHiddenState;
            case "input_ids": return InputIds;
            case "attention_mask": return AttentionMask;
            case "token_type_ids": return TokenTypeIds;
            case "position_ids": return PositionIds;
            case "pooler_output":
                return PoolerOutput ?? throw new KeyNotFoundException("This checkpoint has no pooler, so there is no pooler_output.");
        }
        if (name == $"hidden_states.{LayerCount}" && !captured.ContainsKey(name)) return LastHiddenState;
        if (captured.TryGetValue(name, out var t)) return t;
        throw new KeyNotFoundException(
            $"'{name}' was not captured. Ask for it with CaptureOptions (Kinds = {KindOf(name)}{(Capture.Layers is null ? "" : ", and its layer in Layers")}); captured: {(captured.Count == 0 ? "nothing" : string.Join(", ", captured.Keys.Order()))}.");
    }

    private static string KindOf(string name) => name.Split('.')[0] switch
    {
        "hidden_states" => "ActivationKind.HiddenStates",
        "attentions" => "ActivationKind.Attentions",
        "query" => "ActivationKind.Queries",
        "key" => "ActivationKind.Keys",
        "value" => "ActivationKind.Values",
        "context" => "ActivationKind.Contexts",
        "attention_output" => "ActivationKind.AttentionOutputs",
        "intermediate" => "ActivationKind.Intermediates",
        "word_embeddings" => "ActivationKind.WordEmbeddings",
        _ => "an ActivationKind",
    };

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

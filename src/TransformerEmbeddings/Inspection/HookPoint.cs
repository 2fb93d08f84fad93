using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using TransformerEmbeddings.Modeling;

namespace TransformerEmbeddings.Inspection;

/// <summary>Which numbers a hook point's index counts.</summary>
internal enum IndexSpace
{
    /// <summary>One tensor per forward pass (<c>word_embeddings</c>, <c>last_hidden_state</c>).</summary>
    None,

    /// <summary>Hidden states, 0..L: 0 the embeddings output, l + 1 the output of layer l (HF <c>hidden_states[i]</c>).</summary>
    HiddenState,

    /// <summary>Layers (blocks), 0..L-1 (HF <c>encoder.layer[l]</c>, TransformerLens <c>blocks.{l}</c>).</summary>
    Layer,
}

/// <summary>
/// One named tensor of a forward pass: the name <see cref="EncoderOutput"/>, <c>te dump</c> and <c>../shared/README.md</c>
/// use, the <see cref="ActivationKind"/> that captures it, the numbers its index counts, whether it is split per head, and
/// the TransformerLens hook it corresponds to. Declared once here (TransformerLens declares <c>hook_pattern</c> and the
/// rest once, too): the modules record by these points, the output resolves names through them, the CLI parses them.
/// </summary>
internal sealed class HookPoint
{
    private HookPoint(string name, ActivationKind kind, IndexSpace space, bool perHead, string transformerLens)
    {
        Name = name;
        Kind = kind;
        Space = space;
        PerHead = perHead;
        TransformerLens = transformerLens;
    }

    /// <summary>(B, S) int64, the padded ids.</summary>
    public static HookPoint InputIds { get; } = new("input_ids", ActivationKind.None, IndexSpace.None, false, "");

    /// <summary>(B, S) int64, 1 on real tokens.</summary>
    public static HookPoint AttentionMask { get; } = new("attention_mask", ActivationKind.None, IndexSpace.None, false, "");

    /// <summary>(B, S) int64 segment ids.</summary>
    public static HookPoint TokenTypeIds { get; } = new("token_type_ids", ActivationKind.None, IndexSpace.None, false, "");

    /// <summary>(B, S) int64 position ids as the model used them.</summary>
    public static HookPoint PositionIds { get; } = new("position_ids", ActivationKind.None, IndexSpace.None, false, "");

    /// <summary>(B, S, H) raw rows E[input_ids].</summary>
    public static HookPoint WordEmbeddings { get; } = new("word_embeddings", ActivationKind.WordEmbeddings, IndexSpace.None, false, "hook_embed");

    /// <summary>(B, S, H) hidden state i.</summary>
    public static HookPoint HiddenStates { get; } = new("hidden_states", ActivationKind.HiddenStates, IndexSpace.HiddenState, false, "blocks.{i-1}.hook_resid_post");

    /// <summary>(B, heads, S, S) attention probabilities of layer l.</summary>
    public static HookPoint Attentions { get; } = new("attentions", ActivationKind.Attentions, IndexSpace.Layer, true, "blocks.{l}.attn.hook_pattern");

    /// <summary>(B, heads, S, head_dim) query projections of layer l.</summary>
    public static HookPoint Queries { get; } = new("query", ActivationKind.Queries, IndexSpace.Layer, true, "blocks.{l}.attn.hook_q");

    /// <summary>(B, heads, S, head_dim) key projections of layer l.</summary>
    public static HookPoint Keys { get; } = new("key", ActivationKind.Keys, IndexSpace.Layer, true, "blocks.{l}.attn.hook_k");

    /// <summary>(B, heads, S, head_dim) value projections of layer l.</summary>
    public static HookPoint Values { get; } = new("value", ActivationKind.Values, IndexSpace.Layer, true, "blocks.{l}.attn.hook_v");

    /// <summary>(B, heads, S, head_dim) attentions @ value of layer l, before the output dense.</summary>
    public static HookPoint Contexts { get; } = new("context", ActivationKind.Contexts, IndexSpace.Layer, true, "blocks.{l}.attn.hook_z");

    /// <summary>(B, S, H) the attention block's output after its LayerNorm.</summary>
    public static HookPoint AttentionOutputs { get; } = new("attention_output", ActivationKind.AttentionOutputs, IndexSpace.Layer, false, "blocks.{l}.hook_resid_mid");

    /// <summary>(B, S, I) feed-forward activations after the activation function.</summary>
    public static HookPoint Intermediates { get; } = new("intermediate", ActivationKind.Intermediates, IndexSpace.Layer, false, "blocks.{l}.mlp.hook_post");

    /// <summary>(B, S, H) HF <c>last_hidden_state</c>, always kept.</summary>
    public static HookPoint LastHiddenState { get; } = new("last_hidden_state", ActivationKind.None, IndexSpace.None, false, "ln_final.hook_normalized");

    /// <summary>(B, H) HF <c>pooler_output</c>, kept when the checkpoint has a pooler.</summary>
    public static HookPoint PoolerOutput { get; } = new("pooler_output", ActivationKind.None, IndexSpace.None, false, "");

    /// <summary>Every point, inputs first, in forward order.</summary>
    public static IReadOnlyList<HookPoint> All { get; } =
    [
        InputIds, AttentionMask, TokenTypeIds, PositionIds, WordEmbeddings, HiddenStates, Queries, Keys, Values, Attentions,
        Contexts, AttentionOutputs, Intermediates, LastHiddenState, PoolerOutput,
    ];

    /// <summary>The points a <see cref="CaptureOptions"/> can ask for (everything but the inputs and the outputs always kept).</summary>
    public static IEnumerable<HookPoint> Capturable => All.Where(p => p.Kind != ActivationKind.None);

    /// <summary>The name without an index (<c>attentions</c>).</summary>
    public string Name { get; }

    /// <summary>What captures it; <see cref="ActivationKind.None"/> for what every output keeps.</summary>
    public ActivationKind Kind { get; }

    /// <summary>What its index counts.</summary>
    public IndexSpace Space { get; }

    /// <summary>Whether it is (B, heads, S, ·) rather than (B, S, ·).</summary>
    public bool PerHead { get; }

    /// <summary>The TransformerLens hook name (<c>{l}</c> the layer), or empty.</summary>
    public string TransformerLens { get; }

    /// <summary>The full name at an index that is already resolved (<c>attentions.3</c>); the bare name for <see cref="IndexSpace.None"/>.</summary>
    public string NameAt(int index) => Space == IndexSpace.None ? Name : Name + "." + index.ToString(CultureInfo.InvariantCulture);

    /// <summary>The layer whose <see cref="CaptureOptions.Layers"/> entry keeps index <paramref name="index"/>, or -1 when the layer filter does not apply.</summary>
    public int LayerOf(int index) => Space switch
    {
        IndexSpace.HiddenState => index - 1,   // hidden state l + 1 is layer l's output; hidden state 0 belongs to no layer
        IndexSpace.Layer => index,
        _ => -1,
    };

    /// <summary>Resolves an index of this point (negative from the end) to 0..Count-1.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No such index.</exception>
    public int Resolve(int index, int layers, string paramName) => Space switch
    {
        IndexSpace.HiddenState => LayerIndex.HiddenState(index, layers, paramName),
        IndexSpace.Layer => LayerIndex.Layer(index, layers, paramName),
        _ => 0,
    };

    /// <summary>A point by its bare name (<c>attentions</c>), case-insensitive.</summary>
    public static bool TryGet(string name, [NotNullWhen(true)] out HookPoint? point)
    {
        point = All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
        return point is not null;
    }

    /// <summary>
    /// Reads a full name: <c>last_hidden_state</c>, or <c>attentions.-1</c> / <c>hidden_states.3</c> with its index resolved
    /// against a model of <paramref name="layers"/> layers (negative from the end).
    /// </summary>
    /// <exception cref="ArgumentException">The name is not a tensor of a forward pass, or its index does not exist.</exception>
    public static (HookPoint Point, int Index) Parse(string name, int layers)
    {
        ArgumentNullException.ThrowIfNull(name);
        var dot = name.LastIndexOf('.');
        var index = 0;
        var hasIndex = dot > 0 && int.TryParse(name.AsSpan(dot + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out index);
        var bare = hasIndex ? name[..dot] : name;
        if (!TryGet(bare, out var point) || hasIndex == (point.Space == IndexSpace.None))
            throw new ArgumentException(
                $"'{name}' names no tensor of a forward pass; use one of {string.Join(", ", All.Select(p => p.Space == IndexSpace.None ? p.Name : p.Name + ".{" + (p.Space == IndexSpace.Layer ? "layer" : "i") + "}"))}.",
                nameof(name));
        return hasIndex ? (point, point.Resolve(index, layers, nameof(name))) : (point, 0);
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}

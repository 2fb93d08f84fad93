namespace TransformerEmbeddings.Inspection;

/// <summary>
/// The internals a forward pass can capture (<see cref="CaptureOptions.Kinds"/>). Names follow <c>../shared/README.md</c>
/// and HF outputs; the TransformerLens hook each corresponds to is given (docs/inspection.md). <c>{l}</c> is a layer
/// (0..L-1), <c>{i}</c> a hidden state (0..L).
/// </summary>
[Flags]
public enum ActivationKind
{
    /// <summary>Nothing beyond the last hidden state (and pooler output).</summary>
    None = 0,

    /// <summary><c>word_embeddings</c>: raw rows <c>E[input_ids]</c>, (B, S, H); TransformerLens <c>embed.hook_embed</c>'s input rows.</summary>
    WordEmbeddings = 1 << 0,

    /// <summary><c>hidden_states.{i}</c>: i = 0 the embeddings output, i = l + 1 the output of layer l, (B, S, H); <c>blocks.{i-1}.hook_resid_post</c> (i = 0: <c>blocks.0.hook_resid_pre</c>).</summary>
    HiddenStates = 1 << 1,

    /// <summary><c>attentions.{l}</c>: attention probabilities, (B, heads, S, S); <c>blocks.{l}.attn.hook_pattern</c>.</summary>
    Attentions = 1 << 2,

    /// <summary><c>query.{l}</c>: the query Linear output per head, (B, heads, S, head_dim); <c>blocks.{l}.attn.hook_q</c>.</summary>
    Queries = 1 << 3,

    /// <summary><c>key.{l}</c>: the key Linear output per head, (B, heads, S, head_dim); <c>blocks.{l}.attn.hook_k</c>.</summary>
    Keys = 1 << 4,

    /// <summary><c>value.{l}</c>: the value Linear output per head, (B, heads, S, head_dim); <c>blocks.{l}.attn.hook_v</c>.</summary>
    Values = 1 << 5,

    /// <summary><c>context.{l}</c>: attentions @ value per head before the output dense, (B, heads, S, head_dim); <c>blocks.{l}.attn.hook_z</c>.</summary>
    Contexts = 1 << 6,

    /// <summary><c>attention_output.{l}</c>: the attention block's output after its LayerNorm, (B, S, H); <c>blocks.{l}.hook_resid_mid</c>.</summary>
    AttentionOutputs = 1 << 7,

    /// <summary><c>intermediate.{l}</c>: feed-forward activations after the activation function, (B, S, I); <c>blocks.{l}.mlp.hook_post</c>.</summary>
    Intermediates = 1 << 8,

    /// <summary>Every per-layer attention internal.</summary>
    AttentionInternals = Attentions | Queries | Keys | Values | Contexts,

    /// <summary>Everything.</summary>
    All = WordEmbeddings | HiddenStates | AttentionInternals | AttentionOutputs | Intermediates,
}

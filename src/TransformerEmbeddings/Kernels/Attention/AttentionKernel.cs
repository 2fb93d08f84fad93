using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels.Attention;

/// <summary>
/// How a layer's attention core — <c>softmax(q·kᵀ / √d + mask) · v</c> per (batch, head), HF's eager formula — is
/// computed, bound when the model loads: the library's CPU kernel or libtorch. Both read the fused QKV projection and
/// return merged heads; both honour an <see cref="AttentionProbe"/>, so capturing changes what is recorded, not which
/// code runs.
/// </summary>
internal abstract class AttentionKernel
{
    /// <summary>The attention context.</summary>
    /// <param name="qkv">(B, S, 3H): each token's query, key and value, heads side by side.</param>
    /// <param name="additiveMask">(B, 1, 1, S): 0 on real keys, the dtype's minimum on padding; null when nothing is padded.</param>
    /// <param name="probe">What to record or alter (probabilities, head mask), or null.</param>
    /// <returns>A new (B, S, H) tensor owned by the caller, heads merged.</returns>
    public abstract Tensor Forward(Tensor qkv, Tensor? additiveMask, AttentionProbe? probe);
}

/// <summary>What one call of an <see cref="AttentionKernel"/> records or alters.</summary>
/// <param name="wantsProbabilities">Keep the attention probabilities (HF <c>attentions</c>, TransformerLens <c>hook_pattern</c>).</param>
/// <param name="headMask">(heads) multipliers on each head's probabilities (HF v4 <c>head_mask</c>), or null.</param>
internal sealed class AttentionProbe(bool wantsProbabilities, Tensor? headMask)
{
    /// <summary>Whether the probabilities are wanted.</summary>
    public bool WantsProbabilities { get; } = wantsProbabilities;

    /// <summary>(heads) multipliers on the probabilities, or null.</summary>
    public Tensor? HeadMask { get; } = headMask;

    /// <summary>(B, heads, S, S), after the head mask; set by the kernel when wanted, then owned by the caller.</summary>
    public Tensor? Probabilities { get; set; }
}

using TransformerEmbeddings.Kernels.Linear;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels.Attention;

/// <summary>
/// How a layer's attention core — <c>softmax(q·kᵀ / √d + bias + mask) · v</c> per (batch, head), HF's eager formula —
/// is computed, bound when the model loads: the library's CPU kernel or libtorch. Both read the fused QKV projection
/// and return merged heads; both honour an <see cref="AttentionProbe"/>, so capturing changes what is recorded, not
/// which code runs. The bias is an additive term per head and (query, key) pair (MPNet's relative position bias);
/// BERT, RoBERTa and DistilBERT pass none.
/// </summary>
internal abstract class AttentionKernel
{
    /// <summary>The attention context.</summary>
    /// <param name="qkv">(B, S, 3H): each token's query, key and value, heads side by side.</param>
    /// <param name="additiveMask">(B, 1, 1, S): 0 on real keys, the dtype's minimum on padding; null when nothing is padded.</param>
    /// <param name="scoreBias">
    /// (heads, S, S), or (B, heads, S, S) when it differs per row: added to the scaled scores before the mask, as HF's
    /// MPNetSelfAttention adds its position bias; null for none.
    /// </param>
    /// <param name="probe">What to record or alter (probabilities, head mask), or null.</param>
    /// <returns>A new (B, S, H) tensor owned by the caller, heads merged.</returns>
    public abstract Tensor Forward(Tensor qkv, Tensor? additiveMask, Tensor? scoreBias, AttentionProbe? probe);

    /// <summary>
    /// Projects <paramref name="x"/> to query, key and value with <paramref name="projection"/>, then attends: the
    /// context of <see cref="Forward(Tensor, Tensor?, Tensor?, AttentionProbe?)"/> on <c>projection.Forward(x)</c>.
    /// A kernel may interleave the two (the CPU kernel does, a few sequences at a time, so the projections it reads are
    /// still in cache); the numbers are the same.
    /// </summary>
    /// <param name="x">(B, S, H).</param>
    /// <param name="projection">The fused (3H, H) query, key and value product.</param>
    /// <param name="additiveMask">As <see cref="Forward(Tensor, Tensor?, Tensor?, AttentionProbe?)"/>.</param>
    /// <param name="scoreBias">As <see cref="Forward(Tensor, Tensor?, Tensor?, AttentionProbe?)"/>.</param>
    /// <param name="probe">As <see cref="Forward(Tensor, Tensor?, Tensor?, AttentionProbe?)"/>.</param>
    /// <param name="keepProjections">Whether the caller wants the (B, S, 3H) projection too (hook points record its query, key and value).</param>
    /// <param name="projections">The projection, owned by the caller, when <paramref name="keepProjections"/>; else null.</param>
    /// <returns>A new (B, S, H) tensor owned by the caller, heads merged.</returns>
    public virtual Tensor Forward(Tensor x, LinearKernel projection, Tensor? additiveMask, Tensor? scoreBias, AttentionProbe? probe,
        bool keepProjections, out Tensor? projections)
    {
        var qkv = projection.Forward(x);
        try
        {
            var context = Forward(qkv, additiveMask, scoreBias, probe);
            projections = keepProjections ? qkv : null;
            return context;
        }
        finally
        {
            if (!keepProjections) qkv.Dispose();
        }
    }

    /// <summary>Checks a score bias against the batch: (heads, S, S) or (B, heads, S, S).</summary>
    /// <returns>Whether it holds one (heads, S, S) block per row of the batch (false: one block for every row).</returns>
    protected static bool PerRow(Tensor scoreBias, long batch, int heads, long length)
    {
        var shape = scoreBias.shape;
        var ok = shape.Length switch
        {
            3 => shape[0] == heads && shape[1] == length && shape[2] == length,
            4 => (shape[0] == batch || shape[0] == 1) && shape[1] == heads && shape[2] == length && shape[3] == length,
            _ => false,
        };
        if (!ok)
            throw new ArgumentException(
                $"The score bias must be ({heads}, {length}, {length}) or ({batch}, {heads}, {length}, {length}); found ({string.Join(", ", shape)}).",
                nameof(scoreBias));
        return shape.Length == 4 && shape[0] == batch && batch > 1;
    }
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

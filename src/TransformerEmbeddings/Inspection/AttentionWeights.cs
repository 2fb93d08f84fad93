using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Modeling;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Inspection;

/// <summary>
/// One layer's attention weights in TransformerLens shapes, so per-head analyses need not re-derive slices:
/// <c>q[h] = x @ W_Q[h] + b_Q[h]</c>, and the block's output is <c>Σ_h z[h] @ W_O[h] + b_O</c>. Owns copies of the weights.
/// </summary>
public sealed class AttentionWeights : IDisposable
{
    private AttentionWeights(Tensor wq, Tensor wk, Tensor wv, Tensor wo, Tensor bq, Tensor bk, Tensor bv, Tensor bo)
    {
        (W_Q, W_K, W_V, W_O, B_Q, B_K, B_V, B_O) = (wq, wk, wv, wo, bq, bk, bv, bo);
    }

    /// <summary>(heads, d_model, d_head).</summary>
    public Tensor W_Q { get; }

    /// <summary>(heads, d_model, d_head).</summary>
    public Tensor W_K { get; }

    /// <summary>(heads, d_model, d_head).</summary>
    public Tensor W_V { get; }

    /// <summary>(heads, d_head, d_model): the attention output dense, split by the head it reads.</summary>
    public Tensor W_O { get; }

    /// <summary>(heads, d_head).</summary>
    public Tensor B_Q { get; }

    /// <summary>(heads, d_head).</summary>
    public Tensor B_K { get; }

    /// <summary>(heads, d_head).</summary>
    public Tensor B_V { get; }

    /// <summary>(d_model): the output dense's bias, shared by all heads.</summary>
    public Tensor B_O { get; }

    internal static AttentionWeights From(AttentionProjections attention, EncoderConfig config)
    {
        var (h, dh, d) = (config.NumAttentionHeads, config.HeadDim, config.HiddenSize);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Tensor In(Dense dense) => dense.Weight.view(h, dh, d).transpose(1, 2).contiguous();   // (h, d_model, d_head)
        Tensor Bias(Dense dense) => dense.Bias.view(h, dh).clone();
        var o = attention.Output;
        var result = new AttentionWeights(
            In(attention.Query), In(attention.Key), In(attention.Value),
            o.Weight.t().reshape(h, dh, d).contiguous(),
            Bias(attention.Query), Bias(attention.Key), Bias(attention.Value), o.Bias.clone());
        scope.Detach(result.W_Q, result.W_K, result.W_V, result.W_O, result.B_Q, result.B_K, result.B_V, result.B_O);
        return result;
    }

    /// <summary>Releases the copies.</summary>
    public void Dispose()
    {
        foreach (var t in new[] { W_Q, W_K, W_V, W_O, B_Q, B_K, B_V, B_O }) t.Dispose();
    }
}

using TransformerEmbeddings.Inspection;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Pooling;

/// <summary>
/// Pools the token vectors of each sentence into one vector. Padding never contributes; special tokens
/// (<c>[CLS]</c>, <c>[SEP]</c>, <c>&lt;s&gt;</c>, ...) do unless <see cref="WithoutSpecialTokens"/> is used.
/// Every pooling computes in float32 inside its own dispose scope and returns managed <see cref="Embeddings"/>.
/// </summary>
public sealed class TokenPooler
{
    private readonly TokenStates states;

    internal TokenPooler(TokenStates states, bool excludeSpecialTokens)
    {
        this.states = states;
        ExcludesSpecialTokens = excludeSpecialTokens;
    }

    /// <summary>Whether special tokens are left out.</summary>
    public bool ExcludesSpecialTokens { get; }

    /// <summary>Leaves special tokens out (by the tokenizer's special-tokens mask; needs an output encoded from text, else
    /// the pooling throws <see cref="NotCapturedException"/>).</summary>
    /// <returns>A pooler over the remaining tokens.</returns>
    public TokenPooler WithoutSpecialTokens() => new(states, excludeSpecialTokens: true);

    /// <summary>Includes special tokens (the default).</summary>
    /// <returns>A pooler over all real tokens.</returns>
    public TokenPooler WithSpecialTokens() => new(states, excludeSpecialTokens: false);

    /// <summary><c>cls</c>: the first token (the first non-special token when special tokens are excluded).</summary>
    /// <returns>(B, D) embeddings.</returns>
    public Embeddings Cls() => Pool(TokenPooling.Cls);

    /// <summary><c>mean</c>: Σ mₜhₜ / max(Σ mₜ, 1e-9).</summary>
    /// <returns>(B, D) embeddings.</returns>
    public Embeddings Mean() => Pool(TokenPooling.Mean);

    /// <summary><c>max</c>: the per-dimension maximum over the tokens (excluded tokens set to -1e9 first).</summary>
    /// <returns>(B, D) embeddings.</returns>
    public Embeddings Max() => Pool(TokenPooling.Max);

    /// <summary><c>mean_sqrt_len_tokens</c>: Σ mₜhₜ / √max(Σ mₜ, 1e-9).</summary>
    /// <returns>(B, D) embeddings.</returns>
    public Embeddings MeanSqrtLength() => Pool(TokenPooling.MeanSqrtLength);

    /// <summary><c>weightedmean</c>: token at position t (0-based) weighted by t + 1: Σ (t+1)mₜhₜ / Σ (t+1)mₜ.</summary>
    /// <returns>(B, D) embeddings.</returns>
    public Embeddings WeightedMean() => Pool(TokenPooling.WeightedMean);

    /// <summary><c>lasttoken</c>: the last token that takes part (the final <c>[SEP]</c> unless special tokens are excluded).</summary>
    /// <returns>(B, D) embeddings.</returns>
    public Embeddings LastToken() => Pool(TokenPooling.LastToken);

    /// <summary>
    /// Attention-weighted mean: the weights are row <paramref name="queryToken"/> of layer <paramref name="layer"/>'s
    /// attention probabilities averaged over heads (by default how much the first token, <c>[CLS]</c>, attends to
    /// each token), multiplied by the mask (padding, and special tokens when excluded, get 0) and renormalised to sum
    /// to 1: Σ wₜhₜ. Needs that layer's attentions captured (<see cref="ActivationKind.Attentions"/>).
    /// </summary>
    /// <param name="layer">The layer whose attentions give the weights (0..L-1, negative from the end).</param>
    /// <param name="queryToken">The query position whose attention row gives the weights.</param>
    /// <returns>(B, D) embeddings.</returns>
    /// <exception cref="NotCapturedException">The attentions of that layer were not captured.</exception>
    public Embeddings AttentionWeighted(int layer = -1, int queryToken = 0)
    {
        var output = states.Output;
        var attentions = output.Attentions(layer);
        ArgumentOutOfRangeException.ThrowIfNegative(queryToken);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(queryToken, output.SequenceLength);
        return Run((h, m) => PoolingMath.AttentionWeighted(h, m, attentions.to(h.device), queryToken));
    }

    /// <summary>A strategy's poolings, concatenated in order (<c>PoolingStrategy.Parse("cls+mean")</c>, <c>new PoolingStrategy(TokenPooling.Max)</c>).</summary>
    /// <param name="strategy">The strategy.</param>
    /// <returns>(B, n·D) embeddings.</returns>
    public Embeddings Pool(PoolingStrategy strategy)
    {
        ArgumentNullException.ThrowIfNull(strategy);
        return Run((h, m) => PoolingMath.Pool(strategy, h, m));
    }

    private Embeddings Pool(TokenPooling mode) => Run((h, m) => PoolingMath.Pool(mode, h, m, m));

    private Embeddings Run(Func<Tensor, Tensor, Tensor> pool)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var h = states.Compute();
        var mask = Mask(states.Output, ExcludesSpecialTokens, h.device);
        return Embeddings.FromTensor(pool(h, mask));
    }

    /// <summary>(B, S) float32: 1 on the tokens that take part.</summary>
    internal static Tensor Mask(EncoderOutput output, bool excludeSpecialTokens, Device device)
    {
        var mask = output.AttentionMask.to(ScalarType.Float32, device);
        if (!excludeSpecialTokens) return mask;
        var (b, s) = (output.BatchSize, output.SequenceLength);
        var keep = new float[b * s];
        for (var i = 0; i < b; i++)
        {
            var special = output.RequireTokenization(i).SpecialTokensMask;
            for (var t = 0; t < Math.Min(s, special.Count); t++) keep[i * s + t] = special[t] == 0 ? 1 : 0;
        }
        return mask * tensor(keep, [b, s]).to(device);
    }
}

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

    /// <summary>Leaves special tokens out (by the tokenizer's special-tokens mask; needs an output encoded from text).</summary>
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
    /// to 1: Σ wₜhₜ. Captures the attentions (re-running the forward pass) when they were not captured.
    /// </summary>
    /// <param name="layer">The attention layer (block index, negative from the end).</param>
    /// <param name="queryToken">The query position whose attention row gives the weights.</param>
    /// <returns>(B, D) embeddings.</returns>
    public Embeddings AttentionWeighted(int layer = -1, int queryToken = 0)
    {
        var output = states.Output;
        var l = layer < 0 ? output.LayerCount + layer : layer;
        if (l < 0 || l >= output.LayerCount)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"Layer {layer} does not exist; the model has {output.LayerCount} layers.");
        ArgumentOutOfRangeException.ThrowIfNegative(queryToken);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(queryToken, output.SequenceLength);
        if (!output.Has($"attentions.{l}")) output.EnsureCaptured(ActivationKind.Attentions);
        return Run((h, m) => PoolingMath.AttentionWeighted(h, m, output.Attentions(l).to(h.device), queryToken));
    }

    /// <summary>One pooling by kind.</summary>
    /// <param name="mode">The pooling.</param>
    /// <returns>(B, D) embeddings.</returns>
    public Embeddings Pool(TokenPooling mode) => Run((h, m) => PoolingMath.Pool(mode, h, m));

    /// <summary>Several poolings concatenated in the order given (<c>Concat(TokenPooling.Cls, TokenPooling.Mean)</c>).</summary>
    /// <param name="modes">The poolings.</param>
    /// <returns>(B, n·D) embeddings.</returns>
    public Embeddings Concat(params TokenPooling[] modes) => Pool(new PoolingStrategy(modes));

    /// <summary>A parsed strategy (<c>PoolingStrategy.Parse("cls+mean")</c>): its poolings concatenated in order.</summary>
    /// <param name="strategy">The strategy.</param>
    /// <returns>(B, n·D) embeddings.</returns>
    public Embeddings Pool(PoolingStrategy strategy)
    {
        ArgumentNullException.ThrowIfNull(strategy);
        return Run((h, m) => cat(strategy.Modes.Select(mode => PoolingMath.Pool(mode, h, m)).ToArray(), -1));
    }

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
        if (output.Tokenization is null)
            throw new InvalidOperationException(
                "Excluding special tokens needs the tokenization (which tokens are special); this output was made from ids. Encode texts instead.");
        var (b, s) = (output.BatchSize, output.SequenceLength);
        var keep = new float[b * s];
        for (var i = 0; i < b; i++)
        {
            var special = output.Tokenization[i].SpecialTokensMask;
            for (var t = 0; t < Math.Min(s, special.Count); t++) keep[i * s + t] = special[t] == 0 ? 1 : 0;
        }
        return mask * tensor(keep, [b, s]).to(device);
    }
}

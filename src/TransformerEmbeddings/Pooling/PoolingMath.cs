using TorchSharp;
using TransformerEmbeddings.Runtime;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Pooling;

/// <summary>
/// The token poolings as tensor functions, exactly as sentence-transformers' <c>Pooling</c> module computes them.
/// <c>states</c> is (B, S, D) float32, <c>mask</c> (B, S) float32 with 1 on the tokens that take part. Callers run these
/// inside a dispose scope.
/// </summary>
internal static class PoolingMath
{
    private static readonly Scalar Epsilon = Scalars.Constant(1e-9);
    private static readonly Scalar Excluded = Scalars.Constant(-1e9); // sentence-transformers' value for the tokens max pooling skips

    /// <summary>
    /// A strategy's poolings concatenated in order: the one pooling path of the library (the chain's <c>TokenPooler</c> and
    /// <c>SentenceEmbedder</c>'s Pooling module). <paramref name="clsMask"/> says which tokens <c>cls</c> may pick (the first
    /// of them): the same mask unless a prompt is left out of the others, as sentence-transformers' <c>include_prompt</c>.
    /// </summary>
    public static Tensor Pool(PoolingStrategy strategy, Tensor states, Tensor mask, Tensor? clsMask = null)
    {
        var parts = new Tensor[strategy.Modes.Count];
        for (var i = 0; i < parts.Length; i++) parts[i] = Pool(strategy.Modes[i], states, mask, clsMask ?? mask);
        return parts.Length == 1 ? parts[0] : cat(parts, -1);
    }

    public static Tensor Pool(TokenPooling mode, Tensor states, Tensor mask, Tensor clsMask) => mode switch
    {
        TokenPooling.Cls => First(states, clsMask),
        TokenPooling.Mean => Mean(states, mask),
        TokenPooling.Max => Max(states, mask),
        TokenPooling.MeanSqrtLength => MeanSqrtLength(states, mask),
        TokenPooling.WeightedMean => WeightedMean(states, mask),
        TokenPooling.LastToken => LastToken(states, mask),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown token pooling."),
    };

    /// <summary>The first token that takes part (token 0 when nothing is excluded).</summary>
    public static Tensor First(Tensor states, Tensor mask)
    {
        var index = mask.argmax(1); // the first maximal value: the first 1
        return Gather(states, index);
    }

    public static Tensor Mean(Tensor states, Tensor mask)
    {
        var m = mask.unsqueeze(-1);
        return (states * m).sum(1) / m.sum(1).clamp_min(Epsilon);
    }

    public static Tensor Max(Tensor states, Tensor mask)
    {
        var filled = states.masked_fill(mask.unsqueeze(-1).eq(Scalars.Zero), Excluded);
        var (values, _) = filled.max(1);
        return values;
    }

    public static Tensor MeanSqrtLength(Tensor states, Tensor mask)
    {
        var m = mask.unsqueeze(-1);
        return (states * m).sum(1) / m.sum(1).clamp_min(Epsilon).sqrt();
    }

    public static Tensor WeightedMean(Tensor states, Tensor mask)
    {
        var s = states.shape[1];
        var positions = Scalars.Arange(1, s + 1, ScalarType.Float32, states.device).unsqueeze(0);
        var w = (mask * positions).unsqueeze(-1);
        return (states * w).sum(1) / w.sum(1).clamp_min(Epsilon);
    }

    /// <summary>The last token that takes part; token 0 for a row where none does (as sentence-transformers).</summary>
    public static Tensor LastToken(Tensor states, Tensor mask)
    {
        var s = states.shape[1];
        var (values, indices) = mask.flip(1).max(1);
        using var last = (s - 1).ToScalar();
        indices = where(values.eq(Scalars.Zero), full_like(indices, last), indices);
        return Gather(states, indices.neg().add_(last, Scalars.One)); // S - 1 - index
    }

    /// <summary>Weights from one attention row per sentence, masked and renormalised to sum to 1.</summary>
    /// <param name="states">(B, S, D).</param>
    /// <param name="mask">(B, S).</param>
    /// <param name="attentions">(B, heads, S, S) attention probabilities.</param>
    /// <param name="queryToken">The query row whose attention over the keys gives the weights.</param>
    public static Tensor AttentionWeighted(Tensor states, Tensor mask, Tensor attentions, int queryToken)
    {
        var w = attentions.to(ScalarType.Float32).mean([1]).select(1, queryToken) * mask;
        w = w / w.sum(1, keepdim: true).clamp_min(Epsilon);
        return (states * w.unsqueeze(-1)).sum(1);
    }

    private static Tensor Gather(Tensor states, Tensor index)
    {
        var d = states.shape[2];
        var idx = index.to(ScalarType.Int64).view(-1, 1, 1).expand(-1, 1, d);
        return states.gather(1, idx).squeeze(1);
    }
}

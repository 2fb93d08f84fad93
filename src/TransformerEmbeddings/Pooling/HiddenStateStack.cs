using TransformerEmbeddings.Inspection;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Pooling;

/// <summary>
/// Several hidden states of one <see cref="EncoderOutput"/>, to be reduced to one (B, S, ·) set of token vectors.
/// Nothing is computed until a pooling asks for it; every hidden state must have been captured
/// (<see cref="ActivationKind.HiddenStates"/>; the last always is).
/// </summary>
public sealed class HiddenStateStack
{
    private readonly EncoderOutput output;
    private readonly int[] indices;

    internal HiddenStateStack(EncoderOutput output, int[] indices)
    {
        // Fail where the chain starts, naming what to capture, rather than when a pooling runs.
        foreach (var i in indices) output.Get(HookPoint.HiddenStates, i);
        this.output = output;
        this.indices = indices;
    }

    /// <summary>The hidden-state indices, 0..L (0 the embeddings output), in order.</summary>
    public IReadOnlyList<int> HiddenStates => indices;

    /// <summary>The element-wise mean of the hidden states.</summary>
    /// <returns>Token vectors, (B, S, H).</returns>
    public TokenStates Mean() => Reduce("mean", s => stack(s).mean([0]));

    /// <summary>The element-wise sum of the hidden states.</summary>
    /// <returns>Token vectors, (B, S, H).</returns>
    public TokenStates Sum() => Reduce("sum", s => stack(s).sum(0, keepdim: false));

    /// <summary>The hidden states concatenated along the feature axis, in order.</summary>
    /// <returns>Token vectors, (B, S, n·H).</returns>
    public TokenStates Concat() => Reduce("concat", s => cat(s, -1));

    /// <summary>
    /// sentence-transformers' <c>WeightedLayerPooling</c>: Σ wᵢ·hᵢ / Σ wᵢ over the hidden states, one weight each.
    /// </summary>
    /// <param name="weights">One weight per hidden state of the stack, in order; their sum must not be 0.</param>
    /// <returns>Token vectors, (B, S, H).</returns>
    public TokenStates Weighted(IReadOnlyList<float> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (weights.Count != indices.Length)
            throw new ArgumentException($"{weights.Count} weights for {indices.Length} hidden states; give one per hidden state.", nameof(weights));
        var total = weights.Sum(w => (double)w);
        if (total == 0) throw new ArgumentException("The weights sum to 0.", nameof(weights));
        var w = weights.ToArray();
        return Reduce("weighted", s =>
        {
            var wt = tensor(w, ScalarType.Float32, s[0].device).view(-1, 1, 1, 1);
            return (stack(s) * wt).sum(0, keepdim: false) / wt.sum();
        });
    }

    internal TokenStates Single() => Reduce("hidden state", s => s[0]);

    private TokenStates Reduce(string how, Func<Tensor[], Tensor> reduce) =>
        new(output, () => reduce(indices.Select(i => output.Get(HookPoint.HiddenStates, i).to(ScalarType.Float32)).ToArray()),
            $"{how} of hidden states {string.Join(", ", indices)}");
}

using TransformerEmbeddings.Inspection;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Pooling;

/// <summary>
/// Several hidden states of one <see cref="EncoderOutput"/>, to be reduced to one (B, S, ·) set of token vectors.
/// Nothing is computed until a pooling asks for it. Hidden states the output did not capture are captured by
/// re-running the forward pass (<see cref="EncoderOutput.EnsureCaptured"/>); an output that cannot re-run fails
/// with a message naming <see cref="ActivationKind.HiddenStates"/>.
/// </summary>
public sealed class LayerStack
{
    private readonly EncoderOutput output;
    private readonly int[] indices;

    internal LayerStack(EncoderOutput output, int[] indices)
    {
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

    internal TokenStates Single() => Reduce("single", s => s[0]);

    private TokenStates Reduce(string how, Func<Tensor[], Tensor> reduce)
    {
        EnsureCaptured(output, indices);
        return new TokenStates(output, () =>
        {
            var states = indices.Select(i => output.HiddenState(i).to(ScalarType.Float32)).ToArray();
            return reduce(states);
        }, $"{how} of hidden states {string.Join(", ", indices)}");
    }

    internal static void EnsureCaptured(EncoderOutput output, IEnumerable<int> hiddenStates)
    {
        if (hiddenStates.All(i => i == output.LayerCount || output.Has($"hidden_states.{i}"))) return;
        output.EnsureCaptured(ActivationKind.HiddenStates);
    }
}

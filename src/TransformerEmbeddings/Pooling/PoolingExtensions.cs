using TransformerEmbeddings.Pooling;

namespace TransformerEmbeddings;

/// <summary>
/// Entry points of the fluent pooling API on an <see cref="EncoderOutput"/>:
/// <code>
/// output.Layers(^4..).Mean().Tokens().Mean().Normalize();
/// output.LastLayer().Words().Mean();
/// output.Cls();
/// </code>
/// Layers are hidden-state indices (<see cref="EncoderOutput.HiddenState"/>): 0 the embeddings output, l + 1 the
/// output of block l, -1 (or <c>^1</c>) the last hidden state. Poolings that need hidden states or attentions the
/// output did not capture re-run the forward pass to capture them (<see cref="EncoderOutput.EnsureCaptured"/>), or
/// fail saying what to capture.
/// </summary>
public static class PoolingExtensions
{
    /// <summary>The last hidden state.</summary>
    /// <param name="output">The encoder output.</param>
    /// <returns>Its token vectors.</returns>
    public static TokenStates LastLayer(this EncoderOutput output) => output.Layer(-1);

    /// <summary>One hidden state: 0 the embeddings output, l + 1 the output of block l, negative from the end (-1 the last).</summary>
    /// <param name="output">The encoder output.</param>
    /// <param name="hiddenState">The hidden-state index.</param>
    /// <returns>Its token vectors.</returns>
    /// <exception cref="ArgumentOutOfRangeException">No such hidden state.</exception>
    public static TokenStates Layer(this EncoderOutput output, int hiddenState)
    {
        ArgumentNullException.ThrowIfNull(output);
        var count = output.LayerCount + 1;
        var i = hiddenState < 0 ? count + hiddenState : hiddenState;
        if (i < 0 || i >= count)
            throw new ArgumentOutOfRangeException(nameof(hiddenState), hiddenState,
                $"Hidden states run 0..{count - 1} (or -{count}..-1): 0 is the embeddings output, l + 1 the output of layer l.");
        return new LayerStack(output, [i]).Single();
    }

    /// <summary>A range of hidden states (<c>^4..</c>: the last four), to reduce with <c>Mean</c>, <c>Sum</c>, <c>Concat</c> or <c>Weighted</c>.</summary>
    /// <param name="output">The encoder output.</param>
    /// <param name="hiddenStates">A range over the L + 1 hidden states (index 0 is the embeddings output).</param>
    /// <returns>The stack.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The range does not lie within the hidden states, or is empty.</exception>
    public static LayerStack Layers(this EncoderOutput output, Range hiddenStates)
    {
        ArgumentNullException.ThrowIfNull(output);
        var count = output.LayerCount + 1;
        int offset, length;
        try
        {
            (offset, length) = hiddenStates.GetOffsetAndLength(count);
        }
        catch (ArgumentOutOfRangeException)
        {
            throw new ArgumentOutOfRangeException(nameof(hiddenStates), hiddenStates.ToString(),
                $"The range {hiddenStates} does not lie within the {count} hidden states of this model (0..{count - 1}; 0 is the embeddings output).");
        }
        if (length == 0) throw new ArgumentOutOfRangeException(nameof(hiddenStates), hiddenStates.ToString(), "The range of hidden states is empty.");
        return new LayerStack(output, Enumerable.Range(offset, length).ToArray());
    }

    /// <summary>Hidden states by index (negative from the end), in the order given.</summary>
    /// <param name="output">The encoder output.</param>
    /// <param name="hiddenStates">Hidden-state indices.</param>
    /// <returns>The stack.</returns>
    public static LayerStack Layers(this EncoderOutput output, params int[] hiddenStates)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(hiddenStates);
        if (hiddenStates.Length == 0) throw new ArgumentException("Name at least one hidden state.", nameof(hiddenStates));
        var count = output.LayerCount + 1;
        var resolved = hiddenStates.Select(h =>
        {
            var i = h < 0 ? count + h : h;
            if (i < 0 || i >= count)
                throw new ArgumentOutOfRangeException(nameof(hiddenStates), h, $"Hidden states run 0..{count - 1} (or -{count}..-1).");
            return i;
        }).ToArray();
        return new LayerStack(output, resolved);
    }

    /// <summary>The first token of the last hidden state (the <c>[CLS]</c> / <c>&lt;s&gt;</c> vector).</summary>
    /// <param name="output">The encoder output.</param>
    /// <returns>(B, H) embeddings.</returns>
    public static Embeddings Cls(this EncoderOutput output) => output.LastLayer().Tokens().Cls();

    /// <summary>The mask-weighted mean of the last hidden state over tokens.</summary>
    /// <param name="output">The encoder output.</param>
    /// <returns>(B, H) embeddings.</returns>
    public static Embeddings Mean(this EncoderOutput output) => output.LastLayer().Tokens().Mean();
}

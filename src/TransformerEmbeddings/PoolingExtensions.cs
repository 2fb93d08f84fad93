using TransformerEmbeddings.Modeling;
using TransformerEmbeddings.Pooling;

namespace TransformerEmbeddings;

/// <summary>
/// Where the fluent pooling chain starts on an <see cref="EncoderOutput"/>:
/// <code>
/// output.Tokens().Mean().Normalize();                         // mean of the last hidden state
/// output.Words().Mean();                                      // one vector per word
/// output.HiddenStates(^4..).Mean().Tokens().Mean();           // the last four hidden states averaged, then pooled
/// </code>
/// Hidden states are counted as <see cref="EncoderOutput.HiddenState"/> counts them: 0 the embeddings output, l + 1 the
/// output of layer l, -1 (or <c>^1</c>) the last. Every step but the last is a recipe that holds no tensor. A chain that
/// needs a hidden state or attentions the output did not capture throws <see cref="NotCapturedException"/> saying what to
/// capture; it never runs the model again.
/// </summary>
public static class PoolingExtensions
{
    /// <summary>Pooling over the tokens of each sentence of one hidden state (default: the last).</summary>
    /// <param name="output">The encoder output.</param>
    /// <param name="hiddenState">0..L, negative from the end.</param>
    /// <returns>The token pooler (special tokens included; see <see cref="TokenPooler.WithoutSpecialTokens"/>).</returns>
    /// <exception cref="NotCapturedException">The hidden state is not the last and was not captured.</exception>
    public static TokenPooler Tokens(this EncoderOutput output, int hiddenState = -1) => Single(output, hiddenState).Tokens();

    /// <summary>Pooling over the sub-words of each word of one hidden state (default: the last); words are the tokenizer's word ids.</summary>
    /// <param name="output">The encoder output.</param>
    /// <param name="hiddenState">0..L, negative from the end.</param>
    /// <returns>The word pooler.</returns>
    /// <exception cref="NotCapturedException">The hidden state is not the last and was not captured.</exception>
    public static WordPooler Words(this EncoderOutput output, int hiddenState = -1) => Single(output, hiddenState).Words();

    /// <summary>A range of hidden states (<c>^4..</c>: the last four), to reduce with <c>Mean</c>, <c>Sum</c>, <c>Concat</c> or <c>Weighted</c>.</summary>
    /// <param name="output">The encoder output.</param>
    /// <param name="hiddenStates">A range over the L + 1 hidden states (0 is the embeddings output).</param>
    /// <returns>The stack.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The range does not lie within the hidden states, or is empty.</exception>
    /// <exception cref="NotCapturedException">A hidden state of the range other than the last was not captured.</exception>
    public static HiddenStateStack HiddenStates(this EncoderOutput output, Range hiddenStates)
    {
        ArgumentNullException.ThrowIfNull(output);
        return new HiddenStateStack(output, LayerIndex.HiddenStates(hiddenStates, output.LayerCount, nameof(hiddenStates)));
    }

    /// <summary>Hidden states by index (negative from the end), in the order given.</summary>
    /// <param name="output">The encoder output.</param>
    /// <param name="hiddenStates">Hidden-state indices.</param>
    /// <returns>The stack.</returns>
    /// <exception cref="NotCapturedException">One other than the last was not captured.</exception>
    public static HiddenStateStack HiddenStates(this EncoderOutput output, params int[] hiddenStates)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(hiddenStates);
        if (hiddenStates.Length == 0) throw new ArgumentException("Name at least one hidden state.", nameof(hiddenStates));
        return new HiddenStateStack(output, hiddenStates.Select(h => LayerIndex.HiddenState(h, output.LayerCount, nameof(hiddenStates))).ToArray());
    }

    private static TokenStates Single(EncoderOutput output, int hiddenState)
    {
        ArgumentNullException.ThrowIfNull(output);
        return new HiddenStateStack(output, [LayerIndex.HiddenState(hiddenState, output.LayerCount, nameof(hiddenState))]).Single();
    }
}

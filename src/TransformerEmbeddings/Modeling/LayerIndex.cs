namespace TransformerEmbeddings.Modeling;

/// <summary>
/// The two index spaces of the API, resolved in one place: a layer (block) is 0..L-1, a hidden state 0..L (0 the
/// embeddings output, l + 1 the output of layer l); in both, negative numbers count from the end (-1 the last).
/// </summary>
internal static class LayerIndex
{
    /// <summary>A layer, 0..L-1 or -L..-1.</summary>
    public static int Layer(int layer, int layers, string paramName) =>
        Resolve(layer, layers, paramName, $"Layer {layer} does not exist; the model has {layers} layers (0..{layers - 1}, or -{layers}..-1 from the end).");

    /// <summary>A hidden state, 0..L or -(L+1)..-1.</summary>
    public static int HiddenState(int hiddenState, int layers, string paramName) =>
        Resolve(hiddenState, layers + 1, paramName,
            $"Hidden state {hiddenState} does not exist; the model has {layers + 1} (0..{layers}, or -{layers + 1}..-1 from the end): 0 is the embeddings output, l + 1 the output of layer l.");

    /// <summary>The hidden states a range selects (<c>^4..</c>: the last four), in order.</summary>
    public static int[] HiddenStates(Range range, int layers, string paramName)
    {
        var count = layers + 1;
        int offset, length;
        try
        {
            (offset, length) = range.GetOffsetAndLength(count);
        }
        catch (ArgumentOutOfRangeException)
        {
            throw new ArgumentOutOfRangeException(paramName, range.ToString(),
                $"The range {range} does not lie within the {count} hidden states of this model (0..{count - 1}; 0 is the embeddings output).");
        }
        if (length == 0) throw new ArgumentOutOfRangeException(paramName, range.ToString(), $"The range {range} of hidden states is empty.");
        return Enumerable.Range(offset, length).ToArray();
    }

    private static int Resolve(int index, int count, string paramName, string message)
    {
        var i = index < 0 ? count + index : index;
        if (i < 0 || i >= count) throw new ArgumentOutOfRangeException(paramName, index, message);
        return i;
    }
}

namespace TransformerEmbeddings.Modeling;

/// <summary>Layer numbering shared by every API: 0 is the first block, negative numbers count from the end.</summary>
internal static class LayerIndex
{
    public static int Normalize(int layer, int count, string what)
    {
        var l = layer < 0 ? count + layer : layer;
        if (l < 0 || l >= count)
            throw new ArgumentOutOfRangeException(what, layer, $"Layer {layer} does not exist; the model has {count} layers (0..{count - 1}, or -{count}..-1 from the end).");
        return l;
    }
}

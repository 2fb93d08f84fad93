namespace TransformerEmbeddings.Tokenization;

/// <summary>One sequence's tokens before post-processing (HF <c>Encoding</c> of a single sequence).</summary>
internal sealed class SequenceEncoding
{
    public readonly List<int> Ids = [];
    public readonly List<string> Tokens = [];
    public readonly List<TokenOffset> Offsets = [];
    public readonly List<int?> WordIds = [];

    public int Count => Ids.Count;

    /// <summary>Empties the encoding for reuse.</summary>
    public void Clear()
    {
        Ids.Clear();
        Tokens.Clear();
        Offsets.Clear();
        WordIds.Clear();
    }

    /// <summary>HF <c>Encoding::truncate</c> to the right, stride 0; returns how many tokens were removed.</summary>
    public int Truncate(int maxLength)
    {
        if (maxLength >= Count) return 0;
        var removed = Count - maxLength;
        Ids.RemoveRange(maxLength, removed);
        Tokens.RemoveRange(maxLength, removed);
        Offsets.RemoveRange(maxLength, removed);
        WordIds.RemoveRange(maxLength, removed);
        return removed;
    }
}

namespace TransformerEmbeddings.Pipelines;

/// <summary>A text is longer than the token limit and <see cref="LongTextHandling.Refuse"/> was asked for.</summary>
public sealed class TextTooLongException : TransformerEmbeddingsException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="index">The 0-based position of the text in the input.</param>
    /// <param name="tokens">Its length in tokens (at least the limit plus the cut part).</param>
    /// <param name="limit">The token limit.</param>
    public TextTooLongException(long index, int tokens, int limit)
        : base($"Text {index} has {tokens} tokens, more than the limit of {limit}; shorten it, raise the limit (MaxLength / --max-length), " +
               "or choose LongTextHandling.Truncate or SlidingWindow (--long-texts truncate|window).")
    {
        Index = index;
        Tokens = tokens;
        Limit = limit;
    }

    /// <summary>The 0-based position of the text in the input.</summary>
    public long Index { get; }

    /// <summary>Its length in tokens.</summary>
    public int Tokens { get; }

    /// <summary>The token limit.</summary>
    public int Limit { get; }
}

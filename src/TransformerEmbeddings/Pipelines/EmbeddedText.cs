using TransformerEmbeddings.Pooling;

namespace TransformerEmbeddings.Pipelines;

/// <summary>The result for one text of a streamed call: its position in the input and its vector(s), a managed array the caller owns.</summary>
public sealed class EmbeddedText
{
    internal EmbeddedText(long index, float[] values, int rows, int tokenCount, int truncatedTokenCount, int windows)
    {
        Index = index;
        Values = values;
        Rows = rows;
        TokenCount = tokenCount;
        TruncatedTokenCount = truncatedTokenCount;
        Windows = windows;
    }

    /// <summary>The 0-based position of the text in the input sequence.</summary>
    public long Index { get; }

    /// <summary>The vector (<see cref="EmbeddingOutput.SentenceVector"/>), or the token vectors row-major
    /// (<see cref="EmbeddingOutput.TokenVectors"/>: <see cref="Rows"/> × <see cref="Dimension"/>).</summary>
    public float[] Values { get; }

    /// <summary>1 for a sentence vector; the number of tokens for token vectors.</summary>
    public int Rows { get; }

    /// <summary>The length of each vector.</summary>
    public int Dimension => Rows == 0 ? 0 : Values.Length / Rows;

    /// <summary>The tokens the model saw for this text (special tokens and prompt included; all windows together).</summary>
    public int TokenCount { get; }

    /// <summary>How many tokens the token limit cut off (0 when the text fitted, or in sliding-window mode).</summary>
    public int TruncatedTokenCount { get; }

    /// <summary>How many windows were averaged (1 unless <see cref="LongTextHandling.SlidingWindow"/> split the text).</summary>
    public int Windows { get; }

    /// <summary>The values as a (rows, dimension) batch, without copying.</summary>
    /// <returns>The embeddings.</returns>
    public Embeddings AsEmbeddings() => new(Values, Rows, Dimension);
}

namespace TransformerEmbeddings.Pipelines;

/// <summary>What happens to a text longer than the embedder's token limit.</summary>
public enum LongTextHandling
{
    /// <summary>Cut it at the limit, as sentence-transformers does; each cut text is counted
    /// (<see cref="EmbeddedText.TruncatedTokenCount"/>, <see cref="EmbeddingProgress.TruncatedTexts"/>).</summary>
    Truncate,

    /// <summary>Refuse it: a <see cref="TextTooLongException"/> names the text and its length.</summary>
    Refuse,

    /// <summary>Embed overlapping windows of the limit's size (<see cref="EmbeddingOptions.WindowOverlap"/>) and average
    /// their vectors weighted by each window's token count (renormalised when the pipeline normalises). Sentence vectors only.</summary>
    SlidingWindow,
}

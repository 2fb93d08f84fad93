using TransformerEmbeddings.Pipelines;

namespace TransformerEmbeddings;

/// <summary>
/// Per-call options of <c>SentenceEmbedder.Embed</c>, <c>EmbedStream</c> and <c>EmbedAsync</c>, as sentence-transformers'
/// <c>encode()</c> has them: a prompt, <c>normalize_embeddings</c>, <c>truncate_dim</c>, <c>output_value</c>; plus how
/// texts are batched and what happens to texts over the token limit.
/// </summary>
public sealed record EmbeddingOptions
{
    /// <summary>A prompt of the folder's <c>config_sentence_transformers.json</c> (e.g. <c>query</c>) to prepend;
    /// the folder's default prompt when both this and <see cref="Prompt"/> are null.</summary>
    public string? PromptName { get; init; }

    /// <summary>A literal prompt to prepend (sentence-transformers' <c>prompt=</c>); wins over <see cref="PromptName"/>.</summary>
    public string? Prompt { get; init; }

    /// <summary>L2-normalise every vector last, after truncation (<c>normalize_embeddings=True</c>). False keeps the
    /// folder's own pipeline (which may already end in Normalize).</summary>
    public bool Normalize { get; init; }

    /// <summary>Keep the first d dimensions (Matryoshka, <c>truncate_dim</c>); the folder's <c>truncate_dim</c> when null.</summary>
    public int? TruncateDimension { get; init; }

    /// <summary>A sentence vector per text (default) or the token vectors of each text.</summary>
    public EmbeddingOutput Output { get; init; } = EmbeddingOutput.SentenceVector;

    /// <summary>What happens to a text over the token limit: cut (default), refused, or embedded in windows.</summary>
    public LongTextHandling LongTexts { get; init; } = LongTextHandling.Truncate;

    /// <summary>Tokens shared by consecutive windows in <see cref="LongTextHandling.SlidingWindow"/> mode; a quarter of
    /// the window when null.</summary>
    public int? WindowOverlap { get; init; }

    /// <summary>The token budget, batch size and sort window.</summary>
    public BatchOptions Batching { get; init; } = BatchOptions.Default;

    /// <summary>
    /// Texts at the start of the input taken as done by an earlier, interrupted call: they are read but neither embedded
    /// nor returned, and batches are formed exactly as the uninterrupted call formed them, so the results of the rest
    /// are bit for bit the same. Default 0.
    /// </summary>
    public long SkipTexts { get; init; }

    /// <summary>The defaults: the folder's pipeline, batches of up to 32 texts and 8192 tokens.</summary>
    public static EmbeddingOptions Default { get; } = new();
}

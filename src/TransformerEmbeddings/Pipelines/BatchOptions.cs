namespace TransformerEmbeddings.Pipelines;

/// <summary>
/// How texts are grouped into forward passes: by a token budget, sorted by length inside a bounded window so that
/// padding stays small, while memory stays bounded by the window and not by the corpus.
/// </summary>
public sealed record BatchOptions
{
    /// <summary>The most padded tokens (texts × longest text) one forward pass may hold; a single longer text still
    /// gets a pass of its own. Default 8192 (32 texts of 256 tokens).</summary>
    public int MaxTokensPerBatch { get; init; } = 8192;

    /// <summary>The most texts one forward pass may hold. Default 32 (sentence-transformers' <c>batch_size</c>).</summary>
    public int MaxTextsPerBatch { get; init; } = 32;

    /// <summary>How many consecutive texts are tokenized and sorted by length together. Results are held back until
    /// every earlier text of the window is done, so this bounds memory. Default 2048.</summary>
    public int SortWindow { get; init; } = 2048;

    /// <summary>
    /// How many forward passes run side by side on the CPU, each on its share of the threads. Null (default): one per
    /// thread when the model runs on a CPU with 2–4 threads and no <see cref="SentenceEmbedderOptions.PoolingFunction"/>
    /// is set (a pass spread over every core waits at each kernel's barrier and idles the other cores in its serial parts;
    /// one pass per core has neither), otherwise one. 1: one pass at a time on every thread; N: N passes, each on its
    /// share of the threads (at least one). The vectors are the same bits either way.
    /// </summary>
    public int? ParallelPasses { get; init; }

    /// <summary>The defaults.</summary>
    public static BatchOptions Default { get; } = new();

    internal void Validate()
    {
        if (MaxTokensPerBatch < 1) throw new ArgumentOutOfRangeException(nameof(MaxTokensPerBatch), MaxTokensPerBatch, "The token budget of a batch must be at least 1.");
        if (MaxTextsPerBatch < 1) throw new ArgumentOutOfRangeException(nameof(MaxTextsPerBatch), MaxTextsPerBatch, "A batch must hold at least 1 text.");
        if (ParallelPasses is < 1) throw new ArgumentOutOfRangeException(nameof(ParallelPasses), ParallelPasses, "At least 1 pass must run at a time.");
        if (SortWindow < 1) throw new ArgumentOutOfRangeException(nameof(SortWindow), SortWindow, "The sort window must hold at least 1 text.");
    }
}

using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Pooling;

namespace TransformerEmbeddings;

/// <summary>
/// The pipeline of a <see cref="SentenceEmbedder"/> you build yourself instead of reading it from a sentence-transformers
/// folder (<see cref="SentenceEmbedder.Load(string, SentenceEmbedderOptions, ModelOptions?)"/>,
/// <see cref="SentenceEmbedder.Create"/>). The defaults are what <c>SentenceTransformer(folder)</c> builds for a plain
/// HuggingFace folder: mean pooling over the last hidden state, no normalisation.
/// <code>
/// new SentenceEmbedderOptions { Pooling = PoolingStrategy.Parse("cls"), Normalize = true }
/// new SentenceEmbedderOptions
/// {
///     PoolingFunction = o => o.HiddenStates(^4..).Mean().Tokens().Mean(),
///     Capture = new CaptureOptions { Kinds = ActivationKind.HiddenStates },
/// }
/// </code>
/// </summary>
public sealed record SentenceEmbedderOptions
{
    /// <summary>The token pooling over the last hidden state (sentence-transformers' <c>Pooling</c> module); mean by default.</summary>
    public PoolingStrategy Pooling { get; init; } = PoolingStrategy.Mean;

    /// <summary>
    /// Any pooling chain instead of <see cref="Pooling"/>, e.g. <c>o =&gt; o.HiddenStates(^4..).Mean().Tokens().Mean()</c>.
    /// It receives one forward pass's output (disposed after it returns) and returns one vector per row; what it reads
    /// beyond the last hidden state must be captured (<see cref="Capture"/>).
    /// </summary>
    public Func<EncoderOutput, Embeddings>? PoolingFunction { get; init; }

    /// <summary>What every forward pass captures, for a <see cref="PoolingFunction"/> that reads internals; nothing by default.</summary>
    public CaptureOptions? Capture { get; init; }

    /// <summary>L2-normalise the pooled vectors (sentence-transformers' <c>Normalize</c> module). False by default, as
    /// <c>SentenceTransformer(folder)</c> on a plain folder; <see cref="EmbeddingOptions.Normalize"/> asks per call.</summary>
    public bool Normalize { get; init; }

    /// <summary>The token limit texts are cut to (<c>max_seq_length</c>); <see cref="ModelOptions.MaxLength"/>, else the
    /// tokenizer's limit, when null.</summary>
    public int? MaxSequenceLength { get; init; }
}

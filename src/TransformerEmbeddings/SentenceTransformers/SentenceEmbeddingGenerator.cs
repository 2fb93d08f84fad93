using Microsoft.Extensions.AI;

namespace TransformerEmbeddings.SentenceTransformers;

/// <summary>
/// <see cref="SentenceEmbedder"/> as a Microsoft.Extensions.AI <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>
/// (<see cref="SentenceEmbedder.AsEmbeddingGenerator"/>): a view that never owns the embedder.
/// <see cref="EmbeddingGenerationOptions.Dimensions"/> truncates to the first d dimensions (Matryoshka) and
/// renormalises, as OpenAI's <c>dimensions</c>; a <c>"prompt_name"</c> additional property picks a sentence-transformers prompt.
/// </summary>
internal sealed class SentenceEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly SentenceEmbedder embedder;
    private readonly EmbeddingGeneratorMetadata metadata;

    public SentenceEmbeddingGenerator(SentenceEmbedder embedder)
    {
        ArgumentNullException.ThrowIfNull(embedder);
        this.embedder = embedder;
        metadata = new EmbeddingGeneratorMetadata("TransformerEmbeddings", null, Path.GetFileName(embedder.Model.Folder), embedder.Dimension);
    }

    /// <summary>Embeds the texts (batched, in input order) on a worker thread.</summary>
    /// <param name="values">The texts.</param>
    /// <param name="options">Dimensions (Matryoshka truncation) and an optional <c>prompt_name</c>.</param>
    /// <param name="cancellationToken">Checked between forward passes.</param>
    /// <returns>One embedding per text.</returns>
    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var texts = values.ToList();
        var dimensions = options?.Dimensions;
        if (dimensions is { } d && (d < 1 || d > embedder.Dimension))
            throw new ArgumentOutOfRangeException(nameof(options), d, $"Dimensions must lie in 1..{embedder.Dimension}.");
        var prompt = options?.AdditionalProperties?.TryGetValue("prompt_name", out var p) == true ? p?.ToString() : null;
        // Dimensions: truncate_dim then normalize_embeddings, as sentence-transformers' encode() does it.
        var embedOptions = new EmbeddingOptions { PromptName = prompt, TruncateDimension = dimensions, Normalize = dimensions is not null };
        return Task.Run(() =>
        {
            var vectors = embedder.Embed(texts, embedOptions, cancellationToken: cancellationToken);
            var result = new GeneratedEmbeddings<Embedding<float>>(vectors.Count);
            var created = DateTimeOffset.UtcNow;
            for (var i = 0; i < vectors.Count; i++)
            {
                // Rows of the one result array: no copy.
                var row = new ReadOnlyMemory<float>(vectors.Buffer, i * vectors.Dimension, vectors.Dimension);
                result.Add(new Embedding<float>(row) { ModelId = metadata.DefaultModelId, CreatedAt = created });
            }
            return result;
        }, cancellationToken);
    }

    /// <summary>Returns the metadata, the embedder, the model or this generator when asked for their type.</summary>
    /// <param name="serviceType">The type asked for.</param>
    /// <param name="serviceKey">Unused.</param>
    /// <returns>The service, or null.</returns>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(EmbeddingGeneratorMetadata)) return metadata;
        if (serviceType.IsInstanceOfType(this)) return this;
        if (serviceType.IsInstanceOfType(embedder)) return embedder;
        if (serviceType.IsInstanceOfType(embedder.Model)) return embedder.Model;
        return null;
    }

    /// <summary>Nothing to release: the embedder belongs to whoever loaded it.</summary>
    public void Dispose()
    {
    }
}

using Microsoft.Extensions.AI;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.SentenceTransformers;

public sealed class EmbeddingGeneratorTests
{
    [Fact]
    public async Task The_generator_returns_the_embedders_vectors_and_truncates_on_request()
    {
        using var embedder = SentenceEmbedder.Create(ModelCache.Get("all-MiniLM-L6-v2"));
        using var abstraction = embedder.AsEmbeddingGenerator();
        string[] texts = ["The quick brown fox.", "A fast auburn fox."];

        var result = await abstraction.GenerateAsync(texts);
        var direct = embedder.Embed(texts);
        Assert.Equal(2, result.Count);
        Assert.Equal(direct.RowArray(1), result[1].Vector.ToArray());

        var small = await abstraction.GenerateAsync(texts, new EmbeddingGenerationOptions { Dimensions = 64 });
        var v = small[0].Vector.ToArray();
        Assert.Equal(64, v.Length);
        Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 5);

        var meta = abstraction.GetService<EmbeddingGeneratorMetadata>();
        Assert.Equal(384, meta!.DefaultModelDimensions);
        Assert.Same(embedder, abstraction.GetService<SentenceEmbedder>());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => abstraction.GenerateAsync(texts, new EmbeddingGenerationOptions { Dimensions = 999 }));

        // A view: disposing it leaves the embedder working.
        abstraction.Dispose();
        Assert.Equal(384, embedder.Embed("still here").Length);
    }
}

using TransformerEmbeddings.Pipelines;
using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.SentenceTransformers;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace TransformerEmbeddings.Tests.SentenceTransformers;

/// <summary>
/// Sentence-transformers folders of each family (msmarco-distilbert-*-tas-b style CLS pooling, all-mpnet-base-v2 style
/// mean + Normalize, multilingual-e5 style prompts on XLM-R) equal <c>SentenceTransformer(folder).encode</c> as the
/// reference computes it, from text (tokenization, max_seq_length truncation, prompts included).
/// </summary>
public sealed class FamilySentenceEmbedderTests(ITestOutputHelper log)
{
    private const double Tolerance = 1e-5;

    private static float[] Flatten(float[][] rows) => rows.SelectMany(r => r).ToArray();

    [Theory]
    [InlineData("distilbert-tiny", "cls", 128)]
    [InlineData("mpnet-tiny", "mean", 128)]
    [InlineData("xlmr-tiny", "mean", 512)]
    public void A_family_s_sentence_transformers_folder_equals_encode(string model, string pooling, int maxSeqLength)
    {
        using var embedder = SentenceEmbedder.Load(FamilyFixtures.Folder(model));
        Assert.True(embedder.IsSentenceTransformersFolder);
        Assert.Equal(PoolingStrategy.Parse(pooling), embedder.Pooling);
        Assert.Equal(maxSeqLength, embedder.MaxSequenceLength);
        var golden = FamilyFixtures.Golden(model);
        var (sentences, _, longText) = GoldenInputs.For(embedder.Model);
        var embedded = embedder.Embed(sentences.Append(longText).ToList(), new EmbeddingOptions { Batching = new BatchOptions { MaxTextsPerBatch = 5 } });
        var vectors = embedded.ToArray();
        var expected = golden["st.embeddings"];
        Assert.Equal(expected.shape, new long[] { vectors.Length, vectors[0].Length });
        var worst = expected.data<float>().ToArray().Zip(Flatten(vectors)).Max(p => Math.Abs(p.First - p.Second));
        log.WriteLine($"{model}: st.embeddings max abs diff {worst:E2}");
        Assert.True(worst <= Tolerance, $"{model} st.embeddings: max abs difference {worst:E3}");
    }

    [Theory]
    [InlineData("query")]
    [InlineData("passage")]
    public void Multilingual_e5_style_prompts_are_prepended_as_sentence_transformers_does(string prompt)
    {
        using var embedder = SentenceEmbedder.Load(FamilyFixtures.Folder("xlmr-tiny"));
        Assert.Equal(prompt + ": ", embedder.Prompts[prompt]);
        Assert.Null(embedder.DefaultPromptName);
        var (sentences, _, longText) = GoldenInputs.For(embedder.Model);
        var texts = sentences.Append(longText).ToList();
        var prompted = embedder.Embed(texts, new EmbeddingOptions { PromptName = prompt });
        var vectors = prompted.ToArray();
        var expected = FamilyFixtures.Golden("xlmr-tiny")[$"st.{prompt}.embeddings"];
        var worst = expected.data<float>().ToArray().Zip(Flatten(vectors)).Max(p => Math.Abs(p.First - p.Second));
        log.WriteLine($"xlmr-tiny prompt {prompt}: max abs diff {worst:E2}");
        Assert.True(worst <= Tolerance, $"st.{prompt}.embeddings: max abs difference {worst:E3}");
        var plainEmbedded = embedder.Embed(texts);
        var plain = plainEmbedded.ToArray();
        Assert.NotEqual(Flatten(plain), Flatten(vectors));
        Assert.Throws<ArgumentException>(() => embedder.Embed(texts, new EmbeddingOptions { PromptName = "document" }));
    }

    [Theory]
    [MemberData(nameof(FamilyFixtures.WithHeads), MemberType = typeof(FamilyFixtures))]
    public void A_family_folder_without_modules_json_gets_mean_pooling_as_SentenceTransformer_gives_it(string model)
    {
        using var embedder = SentenceEmbedder.Load(FamilyFixtures.Folder(model));
        Assert.False(embedder.IsSentenceTransformersFolder);
        var golden = FamilyFixtures.Golden(model);
        foreach (var batch in new[] { "", "pairs." })
        {
            using var inputs = Pooling.GoldenTokens.IdInputs(embedder.Model, golden, batch);
            var vectors = embedder.EmbedBatch(inputs);
            TensorAssert.Close(golden[batch + "pool.mean"], vectors, Tolerance, $"{model} {batch}pool.mean");
        }
    }
}

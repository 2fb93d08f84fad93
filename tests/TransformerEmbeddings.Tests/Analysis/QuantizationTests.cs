using TransformerEmbeddings.Analysis;
using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.SentenceTransformers;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace TransformerEmbeddings.Tests.Analysis;

/// <summary>Embedding quantization as sentence-transformers' quantize_embeddings, search with rescoring, and what each precision costs on STS dev.</summary>
public sealed class QuantizationTests(ITestOutputHelper log)
{
    private static Embeddings Rows(params float[][] rows) => new(rows.SelectMany(r => r).ToArray(), rows.Length, rows[0].Length);

    [Fact]
    public void Int8_and_uint8_follow_the_sentence_transformers_formula_truncating_toward_zero()
    {
        // Ranges whose steps are exact in float32 (3.984375 / 255 = 1/64, 255 / 255 = 1), so the expected levels are plain arithmetic.
        var calibration = Rows([0, 0], [3.984375f, 255]);
        var ranges = QuantizationRanges.Calibrate(calibration);
        Assert.Equal([0f, 0f], ranges.Minimum);
        Assert.Equal([3.984375f, 255f], ranges.Maximum);
        var x = Rows([0, 0], [3.984375f, 255], [1, 127.5f], [2, 100.25f], [-1, 300]);
        var int8 = new EmbeddingQuantizer(QuantizationPrecision.Int8, ranges).Quantize(x);
        var uint8 = new EmbeddingQuantizer(QuantizationPrecision.UInt8, ranges).Quantize(x);
        // (x − min) / step [− 128], cast as numpy casts (toward zero: 127.5 − 128 → 0, 100.25 − 128 → −27), out-of-range values saturated.
        Assert.Equal(new sbyte[] { -128, -128, 127, 127, -64, 0, 0, -27, -128, 127 }, int8.Bytes.ToArray().Select(b => (sbyte)b));
        Assert.Equal(new byte[] { 0, 0, 255, 255, 64, 127, 128, 100, 0, 255 }, uint8.Bytes.ToArray());
        Assert.Equal(2, int8.BytesPerVector);
        // Dequantized: the middle of the values each level holds (int8 level 0 holds 127..129 steps, −27 holds 100..101).
        var back = new float[2];
        int8.Quantizer.Dequantize(int8.Row(3), back);
        Assert.Equal([2f, 100.5f], back);
        uint8.Quantizer.Dequantize(uint8.Row(3), back);
        Assert.Equal([2 + 0.5f / 64, 100.5f], back);
        Assert.Throws<ArgumentNullException>(() => new EmbeddingQuantizer(QuantizationPrecision.Int8));
    }

    [Fact]
    public void Binary_packs_sign_bits_most_significant_first_and_ubinary_is_binary_plus_128()
    {
        var x = Rows([1, -1, 2, 0, 3, -3, 0.1f, 5, -1, 7], [-1, -1, -1, -1, -1, -1, -1, -1, 1, -1]);
        var ubinary = new EmbeddingQuantizer(QuantizationPrecision.UBinary).Quantize(x);
        var binary = new EmbeddingQuantizer(QuantizationPrecision.Binary).Quantize(x);
        Assert.Equal(2, ubinary.BytesPerVector);                                  // ⌈10 / 8⌉, the last byte padded with zeros
        Assert.Equal(new byte[] { 0b1010_1011, 0b0100_0000, 0, 0b1000_0000 }, ubinary.Bytes.ToArray());
        Assert.Equal(ubinary.Bytes.ToArray().Select(b => (sbyte)(b - 128)), binary.Bytes.ToArray().Select(b => (sbyte)b));
        Assert.Equal(10 - 2 * 7, ubinary.Score(0, ubinary, 1));                   // 7 of 10 bits differ
        Assert.Equal(ubinary.Score(0, ubinary, 1), binary.Score(0, binary, 1));
        var back = new float[10];
        binary.Quantizer.Dequantize(binary.Row(0), back);
        Assert.Equal(new float[] { 1, -1, 1, -1, 1, -1, 1, 1, -1, 1 }, back);
    }

    [Fact]
    public void Search_with_rescoring_finds_what_float_search_finds_on_real_sentences()
    {
        var pairs = StsBenchmark.Dev().Take(300).ToList();
        using var embedder = SentenceEmbedder.Create(ModelCache.Get("all-MiniLM-L6-v2"), new SentenceEmbedderOptions { Normalize = true }); // the folder's mean + Normalize
        var corpus = embedder.Embed(pairs.Select(p => p.A).ToList());
        var queries = embedder.Embed(pairs.Take(50).Select(p => p.A).ToList());   // each query is in the corpus
        var ranges = QuantizationRanges.Calibrate(corpus);
        foreach (var precision in Enum.GetValues<QuantizationPrecision>())
        {
            var quantized = new EmbeddingQuantizer(precision, precision is QuantizationPrecision.Int8 or QuantizationPrecision.UInt8 ? ranges : null).Quantize(corpus);
            var hits = quantized.Search(queries, topK: 5);
            var self = Enumerable.Range(0, queries.Count).Count(q => hits[q][0].CorpusId == q || pairs[hits[q][0].CorpusId].A == pairs[q].A);
            log.WriteLine($"{precision}: {quantized.BytesPerVector} bytes per vector; the query itself first in {self} of {queries.Count}");
            Assert.Equal(queries.Count, self);
            Assert.All(hits, h => Assert.True(h.Zip(h.Skip(1)).All(p => p.First.Score >= p.Second.Score)));
            var unrescored = quantized.Search(queries, topK: 5, rescoreMultiplier: 0);
            Assert.All(unrescored, h => Assert.Equal(5, h.Length));
        }
    }

    [Fact]
    public void Each_precision_keeps_most_of_the_STS_dev_correlation_at_a_fraction_of_the_memory()
    {
        var pairs = StsBenchmark.Dev();
        var gold = pairs.Select(p => p.Score).ToList();
        using var embedder = SentenceEmbedder.Create(ModelCache.Get("all-MiniLM-L6-v2"), new SentenceEmbedderOptions { Normalize = true }); // the folder's mean + Normalize
        var a = embedder.Embed(pairs.Select(p => p.A).ToList());
        var b = embedder.Embed(pairs.Select(p => p.B).ToList());
        var all = new Embeddings([.. a.Values, .. b.Values], a.Count + b.Count, a.Dimension);
        var baseline = 100 * StsBenchmark.Spearman(Enumerable.Range(0, a.Count).Select(i => Cosine(a.Row(i), b.Row(i))).ToList(), gold);
        log.WriteLine($"| precision | bytes per vector | memory vs float32 | Spearman ×100 (both quantized) | loss | Spearman ×100 (float query, rescored side) | loss |");
        log.WriteLine($"| float32 | {4 * a.Dimension} | 1× | {baseline:F2} | – | – | – |");
        // Ranges calibrated on all 3000 dev sentences, as quantize_embeddings does without a calibration set.
        var ranges = QuantizationRanges.Calibrate(all);
        foreach (var precision in Enum.GetValues<QuantizationPrecision>())
        {
            var q = new EmbeddingQuantizer(precision, precision is QuantizationPrecision.Int8 or QuantizationPrecision.UInt8 ? ranges : null);
            var (qa, qb) = (q.Quantize(a), q.Quantize(b));
            var both = 100 * StsBenchmark.Spearman(Enumerable.Range(0, a.Count).Select(i => (double)qa.Score(i, qb, i) / Norm(qa, i) / Norm(qb, i)).ToList(), gold);
            var vector = new float[a.Dimension];
            var rescored = 100 * StsBenchmark.Spearman(Enumerable.Range(0, a.Count).Select(i =>
            {
                q.Dequantize(qb.Row(i), vector);
                return Cosine(a.Row(i), vector);
            }).ToList(), gold);
            log.WriteLine($"| {precision} | {qa.BytesPerVector} | {4.0 * a.Dimension / qa.BytesPerVector:F0}× smaller | {both:F2} | {baseline - both:F2} | {rescored:F2} | {baseline - rescored:F2} |");
            var allowed = q.Packed ? 3.0 : 0.5;                                   // one bit per dimension loses more
            Assert.InRange(baseline - both, -0.5, allowed);
            Assert.InRange(baseline - rescored, -0.5, allowed);
        }
    }

    /// <summary>The norm of a quantized row under its own score (√score(x, x)), so scores become cosines.</summary>
    private static double Norm(QuantizedEmbeddings e, int i) => Math.Sqrt(Math.Max(1, e.Score(i, e, i)));

    private static double Cosine(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        double dot = 0, xx = 0, yy = 0;
        for (var i = 0; i < x.Length; i++)
        {
            dot += (double)x[i] * y[i];
            xx += (double)x[i] * x[i];
            yy += (double)y[i] * y[i];
        }
        return dot / Math.Sqrt(xx * yy);
    }
}

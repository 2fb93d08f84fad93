using TorchSharp;
using TransformerEmbeddings.Quantization;
using TransformerEmbeddings.Runtime;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Quantization;

/// <summary>Data-free smoothing: the scaled activation quantiser, the smoothed layer, and the accuracy it buys on outlier channels.</summary>
public sealed class SmoothingTests(ITestOutputHelper log)
{
    private const int Hidden = 96, Outlier = 7;

    [Theory]
    [InlineData(5, 96)]
    [InlineData(3, 45)]
    public void Scaled_quantiser_equals_quantising_the_product_on_both_paths(int rows, int k)
    {
        var rnd = new Random(k);
        var x = Int8GemmTests.RandomFloats(rnd, rows * k);
        var m = Enumerable.Range(0, k).Select(_ => (float)(0.05 + rnd.NextDouble() * 4)).ToArray();
        var product = new float[rows * k];
        for (int i = 0; i < product.Length; i++) product[i] = x[i] * m[i % k];
        int padded = (k + 3) / 4 * 4;
        foreach (int max in new[] { 255, 127 })
        {
            var expected = Quantize(product, k, padded, max, true, default);
            foreach (bool simd in new[] { true, false })
            {
                var actual = Quantize(x, k, padded, max, simd, m);
                Assert.Equal(expected.Q, actual.Q);
                Assert.Equal(expected.Scales, actual.Scales);
                Assert.Equal(expected.Zeros, actual.Zeros);
            }
        }
    }

    private static (byte[] Q, float[] Scales, int[] Zeros) Quantize(float[] x, int k, int padded, int max, bool simd, ReadOnlySpan<float> m)
    {
        int rows = x.Length / k;
        var q = new byte[rows * padded];
        var s = new float[rows];
        var z = new int[rows];
        ActivationQuantizer.QuantizeRows(x, k, max, q, padded, s, z, simd, m);
        return (q, s, z);
    }

    [Fact]
    public void Unit_smoothing_is_the_plain_layer_bit_for_bit()
    {
        NativeRuntime.EnsureLoaded();
        var rnd = new Random(3);
        int n = 40, k = 70, m = 33;
        var w = Int8GemmTests.RandomFloats(rnd, n * k, 0.05f);
        var b = Int8GemmTests.RandomFloats(rnd, n);
        var x = Int8GemmTests.RandomFloats(rnd, m * k);
        var plain = QuantizedLinear.FromWeights(w, b, n, k);
        var smoothed = QuantizedLinear.FromWeights(w, b, n, k, Enumerable.Repeat(1f, k).ToArray());
        Assert.True(smoothed.IsSmoothed);
        Assert.False(plain.IsSmoothed);
        var y1 = new float[m * n];
        var y2 = new float[m * n];
        plain.Forward(x, y1, m);
        smoothed.Forward(x, y2, m);
        Assert.Equal(y1, y2);
    }

    [Fact]
    public void Rejects_non_positive_factors()
    {
        var w = new float[6];
        Assert.Throws<ArgumentException>(() => QuantizedLinear.FromWeights(w, default, 2, 3, new float[] { 1, 0, 1 }));
        Assert.Throws<ArgumentException>(() => QuantizedLinear.FromWeights(w, default, 2, 3, new float[] { 1, 1 }));
    }

    [Fact]
    public void Embedding_probe_finds_the_outlier_channel()
    {
        var (word, position, type) = Embeddings(new Random(1));
        var r = Smoothing.ResidualMagnitudes(word, position, type, Hidden, positions: 16);
        var others = r.Where((_, j) => j != Outlier).ToArray();
        log.WriteLine($"r[outlier] = {r[Outlier]:F2}, max other {others.Max():F2}");
        Assert.True(r[Outlier] > 2 * others.Max(), $"outlier {r[Outlier]} vs {others.Max()}");
    }

    /// <summary>
    /// A LayerNorm-fed linear whose normalised input has BERT's kind of outlier channel (present in the embedding
    /// tables and in every row): with the data-free factors the int8 layer's worst output-row cosine to fp32 reaches
    /// 0.9999 where the plain layer's stays lower, and the overall error shrinks.
    /// </summary>
    [Fact]
    public void Data_free_smoothing_fixes_an_outlier_channel()
    {
        NativeRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var rnd = new Random(7);
        var (word, position, type) = Embeddings(rnd);
        int n = 128, rows = 256;
        var gamma = Enumerable.Range(0, Hidden).Select(_ => (float)(0.3 + rnd.NextDouble())).ToArray();
        var beta = Enumerable.Range(0, Hidden).Select(_ => (float)(rnd.NextDouble() - 0.5) * 0.4f).ToArray();
        var w = Int8GemmTests.RandomFloats(rnd, n * Hidden, 0.08f);
        var b = Int8GemmTests.RandomFloats(rnd, n, 0.1f);
        // Inputs: normalised rows with the outlier channel at ±(12…18), then the LayerNorm affine.
        var x = new float[rows * Hidden];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < Hidden; j++)
            {
                double v = j == Outlier ? (rnd.Next(2) * 2 - 1) * (12 + 6 * rnd.NextDouble()) : Gaussian(rnd);
                x[i * Hidden + j] = (float)(gamma[j] * v + beta[j]);
            }

        var r = Smoothing.ResidualMagnitudes(word, position, type, Hidden, positions: 16);
        var s = Smoothing.ForLayerNormInput(w, n, Hidden, gamma, beta, r);
        var plain = QuantizedLinear.FromWeights(w, b, n, Hidden);
        var smoothed = QuantizedLinear.FromWeights(w, b, n, Hidden, s);

        var xt = tensor(x).view(rows, Hidden);
        var exact = nn.functional.linear(xt, tensor(w).view(n, Hidden), tensor(b));
        var (plainMin, plainError) = Compare(plain.Forward(xt), exact);
        var (smoothMin, smoothError) = Compare(smoothed.Forward(xt), exact);
        log.WriteLine($"plain: min cos {plainMin:F6}, rel error {plainError:F5}; smoothed: min cos {smoothMin:F6}, rel error {smoothError:F5}");
        Assert.True(smoothMin >= 0.9999, $"smoothed min cosine {smoothMin}");
        Assert.True(plainMin < 0.9999, $"the case no longer exercises an outlier: plain min cosine {plainMin}");
        Assert.True(smoothError < 0.7 * plainError, $"relative error {smoothError} vs plain {plainError}");
    }

    private static (double MinCosine, double RelativeError) Compare(Tensor y, Tensor exact)
    {
        var cos = nn.functional.cosine_similarity(y, exact, dim: 1);
        return (cos.min().item<float>(), (y - exact).norm().item<float>() / exact.norm().item<float>());
    }

    private static (float[] Word, float[] Position, float[] Type) Embeddings(Random rnd)
    {
        int vocab = 500;
        var word = new float[vocab * Hidden];
        for (int v = 0; v < vocab; v++)
            for (int j = 0; j < Hidden; j++)
                word[v * Hidden + j] = (float)(Gaussian(rnd) * 0.05 + (j == Outlier ? (v % 2 == 0 ? 0.8 : -0.8) : 0));
        var position = Enumerable.Range(0, 16 * Hidden).Select(_ => (float)(Gaussian(rnd) * 0.02)).ToArray();
        var type = Enumerable.Range(0, Hidden).Select(_ => (float)(Gaussian(rnd) * 0.02)).ToArray();
        return (word, position, type);
    }

    private static double Gaussian(Random rnd) =>
        Math.Sqrt(-2 * Math.Log(1 - rnd.NextDouble())) * Math.Cos(2 * Math.PI * rnd.NextDouble());
}

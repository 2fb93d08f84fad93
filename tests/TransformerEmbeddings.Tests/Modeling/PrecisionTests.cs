using TransformerEmbeddings.Runtime;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Modeling;

/// <summary>Reduced precisions are opt-in and stay close to the exact float32 vectors.</summary>
public sealed class PrecisionTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData(Precision.BFloat16, 0.999)]
    [InlineData(Precision.Float16, 0.999)]
    public void Reduced_precision_sentence_vectors_stay_close_to_float32(Precision precision, double minimumCosine)
    {
        var exact = ModelCache.Get("all-MiniLM-L6-v2");
        using var reduced = TransformerModel.Load(SharedData.Model("all-MiniLM-L6-v2"), new ModelOptions { Precision = precision });
        Assert.Equal(precision == Precision.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float16, reduced.DType);
        var (sentences, _, _) = GoldenInputs.For(exact);

        using var a = exact.Encode(sentences);
        using var b = reduced.Encode(sentences);
        using var va = a.LastLayer().Tokens().Mean().Normalize();
        using var vb = b.LastLayer().Tokens().Mean().Normalize();
        var worst = Enumerable.Range(0, va.Count).Min(i => va.RowArray(i).Zip(vb.RowArray(i)).Sum(p => (double)p.First * p.Second));
        log.WriteLine($"{precision}: minimum cosine to float32 {worst:F6}");
        Assert.True(worst >= minimumCosine, $"{precision}: minimum cosine {worst:F6}");
    }
}

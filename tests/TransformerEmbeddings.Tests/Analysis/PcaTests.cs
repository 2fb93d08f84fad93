using TransformerEmbeddings.Analysis;
using Xunit;

namespace TransformerEmbeddings.Tests.Analysis;

/// <summary>PCA against cases whose answer is known in closed form.</summary>
public sealed class PcaTests
{
    [Fact]
    public void Four_points_on_two_axes_give_the_axes_their_variances_and_coordinates()
    {
        // Mean (1, 1) after a shift; covariance diag(8/3, 2/3) with N − 1 = 3: PC1 = x (80 %), PC2 = y (20 %).
        float[][] points = [[3, 1], [-1, 1], [1, 2], [1, 0]];
        var pca = Pca.Fit(points, components: 2);
        Assert.Equal([1.0, 1.0], pca.Mean);
        Assert.Equal(8.0 / 3, pca.ExplainedVariance[0], 12);
        Assert.Equal(2.0 / 3, pca.ExplainedVariance[1], 12);
        Assert.Equal(0.8, pca.ExplainedVarianceRatio[0], 12);
        Assert.Equal(0.2, pca.ExplainedVarianceRatio[1], 12);
        Assert.Equal(1, pca.Components[0, 0], 12);    // signs as scikit-learn: the largest entry positive
        Assert.Equal(0, pca.Components[0, 1], 12);
        Assert.Equal(0, pca.Components[1, 0], 12);
        Assert.Equal(1, pca.Components[1, 1], 12);
        double[,] expected = { { 2, 0 }, { -2, 0 }, { 0, 1 }, { 0, -1 } };
        for (var i = 0; i < 4; i++)
            for (var j = 0; j < 2; j++)
                Assert.Equal(expected[i, j], pca.Projections[i, j], 12);
        var again = pca.Transform([[5, 1]]);
        Assert.Equal(4, again[0, 0], 12);
    }

    [Fact]
    public void A_rotated_ellipse_is_found_along_its_diagonal()
    {
        // Points ±a(1,1)/√2 ± b(1,−1)/√2 in 3-D with a constant third coordinate: PC1 along (1, 1, 0)/√2.
        var (a, b) = (3.0, 1.0);
        var s = Math.Sqrt(0.5);
        float[][] points =
        [
            [(float)(a * s), (float)(a * s), 7], [(float)(-a * s), (float)(-a * s), 7],
            [(float)(b * s), (float)(-b * s), 7], [(float)(-b * s), (float)(b * s), 7],
        ];
        var pca = Pca.Fit(points, components: 2);
        Assert.Equal(Math.Abs(pca.Components[0, 0]), Math.Abs(pca.Components[0, 1]), 6);
        Assert.Equal(s, Math.Abs(pca.Components[0, 0]), 6);
        Assert.Equal(0, pca.Components[0, 2], 6);
        Assert.Equal(2 * a * a / 3, pca.ExplainedVariance[0], 5);
        Assert.Equal(2 * b * b / 3, pca.ExplainedVariance[1], 5);
        Assert.Equal(a, Math.Abs(pca.Projections[0, 0]), 5);
    }

    [Fact]
    public void Bad_input_is_refused()
    {
        Assert.Throws<ArgumentException>(() => Pca.Fit([[1f, 2f]]));
        Assert.Throws<ArgumentException>(() => Pca.Fit([[1f, 2f], [1f]]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Pca.Fit([[1f, 2f], [3f, 4f]], components: 3));
    }
}

using System.Globalization;

namespace TransformerEmbeddings.Tests.Infrastructure;

/// <summary>The STS-benchmark dev split of ../shared/data, read as sentence-transformers reads it (tab-separated, no quoting).</summary>
public static class StsBenchmark
{
    public static IReadOnlyList<(string A, string B, double Score)> Dev()
    {
        var path = Path.Combine(SharedData.Root, "data", "stsbenchmark", "sts-dev.csv");
        return File.ReadLines(path)
            .Select(line => line.Split('\t'))
            .Select(f => (f[5], f[6], double.Parse(f[4], CultureInfo.InvariantCulture)))
            .ToList();
    }

    public static double Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y) => Pearson(Ranks(x), Ranks(y));

    private static double[] Ranks(IReadOnlyList<double> v)
    {
        var order = Enumerable.Range(0, v.Count).OrderBy(i => v[i]).ToArray();
        var ranks = new double[v.Count];
        for (var i = 0; i < order.Length;)
        {
            var j = i;
            while (j + 1 < order.Length && v[order[j + 1]] == v[order[i]]) j++;
            var rank = (i + j) / 2.0 + 1; // ties share their average rank
            for (var k = i; k <= j; k++) ranks[order[k]] = rank;
            i = j + 1;
        }
        return ranks;
    }

    private static double Pearson(double[] x, double[] y)
    {
        var (mx, my) = (x.Average(), y.Average());
        double sxy = 0, sxx = 0, syy = 0;
        for (var i = 0; i < x.Length; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxy / Math.Sqrt(sxx * syy);
    }
}

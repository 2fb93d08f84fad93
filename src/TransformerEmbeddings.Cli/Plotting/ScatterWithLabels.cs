using ScottPlot;

namespace TransformerEmbeddings.Cli.Plotting;

/// <summary>Points in two dimensions with a label beside each (PCA projections of embeddings).</summary>
internal static class ScatterWithLabels
{
    public static Plot Draw(double[,] points, IReadOnlyList<string> labels, string title, string xLabel, string yLabel)
    {
        var n = points.GetLength(0);
        var xs = Enumerable.Range(0, n).Select(i => points[i, 0]).ToArray();
        var ys = Enumerable.Range(0, n).Select(i => points[i, 1]).ToArray();
        var plot = new Plot();
        var scatter = plot.Add.ScatterPoints(xs, ys);
        scatter.MarkerSize = 8;
        // Labels of the right half's points go to their left, so no label runs off the picture.
        var middle = (xs.Min() + xs.Max()) / 2;
        for (var i = 0; i < n; i++)
        {
            var text = plot.Add.Text(labels[i], xs[i], ys[i]);
            text.LabelFontSize = 11;
            var right = xs[i] > middle;
            text.LabelOffsetX = right ? -6 : 6;
            text.LabelAlignment = right ? Alignment.MiddleRight : Alignment.MiddleLeft;
        }
        plot.Axes.Title.Label.Text = title;
        plot.Axes.Bottom.Label.Text = xLabel;
        plot.Axes.Left.Label.Text = yLabel;
        // Room for the labels beside the outermost points.
        var (minX, maxX) = (xs.Min(), xs.Max());
        var (minY, maxY) = (ys.Min(), ys.Max());
        var (padX, padY) = (Math.Max(1e-9, maxX - minX), Math.Max(1e-9, maxY - minY));
        plot.Axes.SetLimits(minX - 0.15 * padX, maxX + 0.15 * padX, minY - 0.1 * padY, maxY + 0.1 * padY);
        return plot;
    }
}

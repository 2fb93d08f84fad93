using ScottPlot;

namespace TransformerEmbeddings.Cli.Plotting;

/// <summary>The k nearest tokens as horizontal bars of their distances, nearest at the top.</summary>
internal static class DistanceBars
{
    public static Plot Draw(IReadOnlyList<(string Label, double Distance)> rows, string title, string xLabel)
    {
        var plot = new Plot();
        var n = rows.Count;
        var bars = rows.Select((r, i) => new Bar { Position = n - 1 - i, Value = r.Distance, FillColor = Colors.SteelBlue }).ToList();
        var series = plot.Add.Bars(bars);
        series.Horizontal = true;
        var positions = Enumerable.Range(0, n).Select(i => (double)(n - 1 - i)).ToArray();
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, rows.Select(r => PlotFile.Label(r.Label)).ToArray());
        plot.Axes.Bottom.Label.Text = xLabel;
        plot.Axes.Title.Label.Text = title;
        plot.Axes.Margins(left: 0, right: 0.1);
        return plot;
    }
}

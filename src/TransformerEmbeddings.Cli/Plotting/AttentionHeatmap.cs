using ScottPlot;

namespace TransformerEmbeddings.Cli.Plotting;

/// <summary>One head's attention pattern as a heatmap: queries down, keys across, tokens as labels.</summary>
internal static class AttentionHeatmap
{
    public static Plot Draw(float[,] pattern, IReadOnlyList<string> tokens, string title)
    {
        var n = tokens.Count;
        var data = new double[n, n];
        for (var i = 0; i < n; i++)
            for (var j = 0; j < n; j++)
                data[i, j] = pattern[i, j];
        var plot = new Plot();
        var map = plot.Add.Heatmap(data);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        map.Extent = new CoordinateRect(-0.5, n - 0.5, -0.5, n - 0.5);               // cell (i, j) centred on (j, n - 1 - i)
        plot.Add.ColorBar(map).Label = "attention probability";
        var positions = Enumerable.Range(0, n).Select(i => (double)i).ToArray();
        var labels = tokens.Select(t => PlotFile.Label(t)).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, labels);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions.Reverse().ToArray(), labels);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 90;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.Label.Text = "key (attended to)";
        plot.Axes.Bottom.MinimumSize = 40 + 7 * labels.Max(l => l.Length); // rotated labels above the axis title
        plot.Axes.Left.Label.Text = "query";
        plot.Axes.Title.Label.Text = title;
        plot.Axes.SetLimits(-0.5, n - 0.5, -0.5, n - 0.5);
        plot.Grid.IsVisible = false;
        return plot;
    }
}

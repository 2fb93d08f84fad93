using ScottPlot;

namespace TransformerEmbeddings.Cli.Plotting;

/// <summary>Saves a plot as PNG or SVG by the path's extension, through a temporary sibling and a rename (no half-written picture).</summary>
internal static class PlotFile
{
    public static void Save(Plot plot, string path, int width, int height)
    {
        if (width < 100 || height < 100) throw new CliException($"--width and --height must be at least 100 pixels; got {width}×{height}.");
        var kind = Path.GetExtension(path).ToLowerInvariant();
        if (kind is not (".png" or ".svg")) throw new CliException($"unknown picture format '{kind}' of '{path}'; use .png or .svg.");
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new CliException($"output folder '{dir}' does not exist.");
        var temp = Path.Combine(dir, $".{Path.GetFileNameWithoutExtension(full)}.{Environment.ProcessId}.tmp{kind}");
        try
        {
            if (kind == ".png") plot.SavePng(temp, width, height);
            else plot.SaveSvg(temp, width, height);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Token labels as a reader expects them: byte-level BPE's Ġ as a space marker dropped, long labels cut.</summary>
    public static string Label(string token, int max = 24)
    {
        var t = token.Replace('Ġ', '_').Replace('Ċ', '¶');
        return t.Length <= max ? t : t[..(max - 1)] + "…";
    }
}

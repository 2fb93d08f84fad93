namespace TransformerEmbeddings.Kernels;

/// <summary>
/// How a GEMM's output is cut into work items for <see cref="TileWorkers"/>: chunks of <see cref="TilesPerItem"/> row
/// tiles × groups of up to 8 weight panels, item i = (row chunk i / panel chunks, panel chunk i % panel chunks) so
/// consecutive items share a block of activations. Small products run on the calling thread alone.
/// </summary>
internal readonly struct GemmSplit
{
    /// <summary>Row tiles per item (96 rows of activations for a 6-row tile).</summary>
    public const int TilesPerItem = 16;

    private const int MaxPanelsPerItem = 8;
    private const long SingleThreadBelowMacs = 1L << 20;

    /// <summary>Plans a product of <paramref name="rows"/> × K × N.</summary>
    /// <param name="rows">M.</param>
    /// <param name="rowBlock">Rows per micro-kernel tile.</param>
    /// <param name="k">K.</param>
    /// <param name="n">N.</param>
    /// <param name="panels">The weight's panels.</param>
    /// <param name="threads">The most threads wanted.</param>
    public GemmSplit(int rows, int rowBlock, int k, int n, int panels, int threads)
    {
        Tiles = (rows + rowBlock - 1) / rowBlock;
        Panels = panels;
        int rowChunks = (Tiles + TilesPerItem - 1) / TilesPerItem;
        Threads = (long)rows * k * n < SingleThreadBelowMacs ? 1 : Math.Clamp(threads, 1, TileWorkers.MaxThreads);
        // Enough items for every thread to get several (balance), but panel groups as wide as that allows (reuse).
        int perItem = MaxPanelsPerItem;
        while (perItem > 1 && rowChunks * ((panels + perItem - 1) / perItem) < 4 * Threads) perItem /= 2;
        PanelsPerItem = perItem;
        PanelChunks = (panels + perItem - 1) / perItem;
        Items = rowChunks * PanelChunks;
    }

    /// <summary>Row tiles in all.</summary>
    public int Tiles { get; }

    /// <summary>Weight panels in all.</summary>
    public int Panels { get; }

    /// <summary>Panels per item.</summary>
    public int PanelsPerItem { get; }

    /// <summary>Panel groups.</summary>
    public int PanelChunks { get; }

    /// <summary>Work items.</summary>
    public int Items { get; }

    /// <summary>Threads to use.</summary>
    public int Threads { get; }

    /// <summary>Item <paramref name="item"/>'s tiles [T0, T1) and panels [P0, P1).</summary>
    public (int T0, int T1, int P0, int P1) Item(int item)
    {
        int rowChunk = item / PanelChunks, panelChunk = item % PanelChunks;
        int t0 = rowChunk * TilesPerItem, p0 = panelChunk * PanelsPerItem;
        return (t0, Math.Min(Tiles, t0 + TilesPerItem), p0, Math.Min(Panels, p0 + PanelsPerItem));
    }
}

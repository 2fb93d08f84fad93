namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// How a GEMM's output is cut into work items for <see cref="TileWorkers"/>: chunks of about <see cref="RowsPerItem"/>
/// rows × groups of up to 8 weight panels; item i = (row chunk i / panel chunks, panel chunk i % panel chunks), so
/// consecutive items share a block of activations. Small products run on the calling thread alone.
/// </summary>
internal readonly struct GemmSplit
{
    /// <summary>Rows of activations per item (48 × 384 fp32 = 72 KB: stays in L2 while its panels stream past).</summary>
    public const int RowsPerItem = 48;

    private const int MaxPanelsPerItem = 8;
    private const long SingleThreadBelowMacs = 1L << 20;

    /// <summary>Plans a product of <paramref name="rows"/> × K × N.</summary>
    /// <param name="rows">M.</param>
    /// <param name="tileRows">MR of the micro-kernel (an item holds whole tiles).</param>
    /// <param name="k">K.</param>
    /// <param name="n">N.</param>
    /// <param name="panels">The weight's panels.</param>
    /// <param name="threads">The most threads wanted.</param>
    public GemmSplit(int rows, int tileRows, int k, int n, int panels, int threads)
    {
        Rows = rows;
        ItemRows = Math.Max(1, RowsPerItem / tileRows) * tileRows;
        Panels = panels;
        int rowChunks = RowChunks = (rows + ItemRows - 1) / ItemRows;
        Threads = (long)rows * k * n < SingleThreadBelowMacs ? 1 : Math.Clamp(threads, 1, TileWorkers.MaxThreads);
        // Enough items for every thread to get several (balance), but panel groups as wide as that allows (reuse).
        int perItem = MaxPanelsPerItem;
        while (perItem > 1 && rowChunks * ((panels + perItem - 1) / perItem) < 4 * Threads) perItem /= 2;
        PanelsPerItem = perItem;
        PanelChunks = (panels + perItem - 1) / perItem;
        Items = rowChunks * PanelChunks;
    }

    /// <summary>M.</summary>
    public int Rows { get; }

    /// <summary>Rows per item (a multiple of MR).</summary>
    public int ItemRows { get; }

    /// <summary>Blocks of <see cref="ItemRows"/> rows.</summary>
    public int RowChunks { get; }

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

    /// <summary>Row chunk <paramref name="chunk"/>'s rows [R0, R1).</summary>
    public (int R0, int R1) RowRange(int chunk) => (chunk * ItemRows, Math.Min(Rows, (chunk + 1) * ItemRows));

    /// <summary>Item <paramref name="item"/>'s rows [R0, R1) and panels [P0, P1).</summary>
    public (int R0, int R1, int P0, int P1) Item(int item)
    {
        int rowChunk = item / PanelChunks, panelChunk = item % PanelChunks;
        int r0 = rowChunk * ItemRows, p0 = panelChunk * PanelsPerItem;
        return (r0, Math.Min(Rows, r0 + ItemRows), p0, Math.Min(Panels, p0 + PanelsPerItem));
    }
}

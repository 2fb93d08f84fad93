using System.Runtime.CompilerServices;

namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// The fp32 GEMM driver, the same for every instruction set: <c>Y[m, n] = Σₖ X[m, k] · W[n, k] + b[n]</c> (then the
/// exact GELU if asked) with W packed once (<see cref="PackedWeights"/>) for the table's micro-kernel. Work is cut by
/// <see cref="GemmSplit"/>; each item packs its rows of X per k-block (<see cref="ActivationPanels"/>), or reads them in
/// place when the kernel can (<see cref="SgemmKernel.MultiplyRows"/>), and runs the micro-kernel over its panels, so a
/// panel slice stays in L1/L2 while the item's rows stream past it.
/// </summary>
internal static unsafe class Sgemm
{
    /// <summary>Inputs per k-block (a 48-wide panel slice of 384 × 48 floats, 72 KB, streams through L1/L2 once per row block).</summary>
    public const int KBlock = 384;

    /// <summary>Up to this many rows each panel is read whole, as one sequential stream: batch-1 inference is bound by
    /// reading the weights from memory, and k-blocks would interleave the panels' streams.</summary>
    public const int WholeKUpToRows = 48;

    /// <summary>One GEMM's operands; pointers stay valid for the call.</summary>
    internal struct Problem
    {
        /// <summary>The activations, <see cref="Rows"/> × <see cref="K"/>, row stride <see cref="LdX"/>.</summary>
        public float* X;
        /// <summary>Floats between rows of <see cref="X"/>.</summary>
        public int LdX;
        /// <summary>The packed weights, panels of the kernel's width.</summary>
        public float* W;
        /// <summary>The bias, padded to whole panels.</summary>
        public float* Bias;
        /// <summary>The output, <see cref="Rows"/> × <see cref="N"/>, row stride <see cref="LdY"/>.</summary>
        public float* Y;
        /// <summary>Floats between rows of <see cref="Y"/>.</summary>
        public int LdY;
        /// <summary>M.</summary>
        public int Rows;
        /// <summary>K.</summary>
        public int K;
        /// <summary>N.</summary>
        public int N;
        /// <summary>⌈N / NR⌉.</summary>
        public int Panels;
        /// <summary>Apply the exact GELU to the finished outputs.</summary>
        public bool Gelu;
        /// <summary>X already packed for every item (<see cref="Multiply"/> packs it once when several items share rows), or null.</summary>
        public float* PackedX;
    }

    /// <summary>Runs the whole product on up to <paramref name="threads"/> threads.</summary>
    public static void Multiply(in SgemmKernel kernel, in Problem p, int threads)
    {
        var job = new Job { Kernel = kernel, Problem = p, Split = new GemmSplit(p.Rows, kernel.Rows, p.K, p.N, p.Panels, threads) };
        if (job.Split.PanelChunks == 1 || kernel.MultiplyRows != null)
        {
            TileWorkers.For(job.Split.Items, job.Split.Threads, &job, &Item);
            return;
        }
        // Several items share each block of rows: pack X once for all of them instead of once per item.
        var buffer = System.Buffers.ArrayPool<float>.Shared.Rent(checked((int)PackedSize(kernel.Rows, p.Rows, p.K)));
        try
        {
            fixed (float* packed = buffer)
            {
                job.Problem.PackedX = packed;
                TileWorkers.For(job.Split.RowChunks * KBlocks(p.Rows, p.K), job.Split.Threads, &job, &PackItem);
                TileWorkers.For(job.Split.Items, job.Split.Threads, &job, &Item);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(buffer);
        }
    }

    private static int KBlockFor(int rows, int k) => rows <= WholeKUpToRows ? k : KBlock;

    private static int KBlocks(int rows, int k) => (k + KBlockFor(rows, k) - 1) / KBlockFor(rows, k);

    private static long PackedSize(int mr, int rows, int k) => (long)(rows + mr - 1) / mr * mr * k + 8;

    /// <summary>Where tile <paramref name="tile"/>'s panel of the k-block starting at <paramref name="k0"/> (kc wide) lies in a whole packed X.</summary>
    private static float* PackedTile(float* packed, int mr, int rows, int k0, int kc, int tile) =>
        packed + (long)(rows + mr - 1) / mr * mr * k0 + (long)tile * mr * kc;

    private static void PackItem(void* context, int item)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        ref var p = ref job.Problem;
        int mr = job.Kernel.Rows, kBlock = KBlockFor(p.Rows, p.K);
        int chunk = item % job.Split.RowChunks, k0 = item / job.Split.RowChunks * kBlock, kc = Math.Min(kBlock, p.K - k0);
        var (r0, r1) = job.Split.RowRange(chunk);
        ActivationPanels.Pack(p.X + (long)r0 * p.LdX, p.LdX, r1 - r0, k0, kc, mr, PackedTile(p.PackedX, mr, p.Rows, k0, kc, r0 / mr));
    }

    /// <summary>Computes rows [<paramref name="r0"/>, <paramref name="r1"/>) × panels [<paramref name="p0"/>, <paramref name="p1"/>) on this thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(in SgemmKernel kernel, in Problem p, int r0, int r1, int p0, int p1)
    {
        int mr = kernel.Rows, nr = kernel.Columns, rows = r1 - r0;
        if (rows <= 0) return;
        int kBlock = KBlockFor(p.Rows, p.K);
        bool inPlace = kernel.MultiplyRows != null && p.PackedX is null;
        float* panels = p.PackedX is null && !inPlace ? Scratch.Panels(ActivationPanels.Size(rows, Math.Min(kBlock, p.K), mr)) : null;
        float* edge = stackalloc float[mr * nr];
        for (int k0 = 0; k0 < p.K; k0 += kBlock)
        {
            int kc = Math.Min(kBlock, p.K - k0);
            bool first = k0 == 0, last = k0 + kc >= p.K;
            if (p.PackedX is not null) panels = PackedTile(p.PackedX, mr, p.Rows, k0, kc, r0 / mr);
            else if (!inPlace) ActivationPanels.Pack(p.X + (long)r0 * p.LdX, p.LdX, rows, k0, kc, mr, panels);
            for (int panel = p0; panel < p1; panel++)
            {
                float* w = p.W + ((long)panel * p.K + k0) * nr;
                int col = panel * nr, cols = Math.Min(nr, p.N - col);
                float* bias = first ? p.Bias + col : null;
                for (int t = 0; t < rows; t += mr)
                {
                    int n = Math.Min(mr, rows - t);
                    float* a = inPlace ? p.X + (long)(r0 + t) * p.LdX + k0 : panels + (long)t * kc;
                    float* y = p.Y + (long)(r0 + t) * p.LdY + col;
                    if (cols == nr) Tile(kernel, inPlace, a, p.LdX, w, kc, y, p.LdY, n, bias);
                    else Edge(kernel, inPlace, a, p.LdX, w, kc, y, p.LdY, n, cols, bias, edge);
                    if (last && p.Gelu) Epilogue.Gelu(y, p.LdY, n, cols, kernel.Isa);
                }
            }
        }
    }

    /// <summary>One tile: <paramref name="a"/> is a packed panel, or the tile's first row in place (rows <paramref name="lda"/> apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile(in SgemmKernel kernel, bool inPlace, float* a, int lda, float* w, int kc, float* y, int ldy, int rows, float* bias)
    {
        if (inPlace) kernel.MultiplyRows(a, lda, w, kc, y, ldy, rows, bias);
        else kernel.Multiply(a, w, kc, y, ldy, rows, bias);
    }

    /// <summary>A tile past the last whole panel: computed into a scratch tile holding the current values, then copied.</summary>
    private static void Edge(in SgemmKernel kernel, bool inPlace, float* a, int lda, float* w, int kc, float* y, int ldy, int rows, int cols, float* bias, float* tile)
    {
        int nr = kernel.Columns;
        if (bias is null)
            for (int i = 0; i < rows; i++) new ReadOnlySpan<float>(y + (long)i * ldy, cols).CopyTo(new Span<float>(tile + i * nr, cols));
        Tile(kernel, inPlace, a, lda, w, kc, tile, nr, rows, bias);
        for (int i = 0; i < rows; i++) new ReadOnlySpan<float>(tile + i * nr, cols).CopyTo(new Span<float>(y + (long)i * ldy, cols));
    }

    private struct Job
    {
        public SgemmKernel Kernel;
        public Problem Problem;
        public GemmSplit Split;
    }

    private static void Item(void* context, int item)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        var (r0, r1, p0, p1) = job.Split.Item(item);
        Run(in job.Kernel, in job.Problem, r0, r1, p0, p1);
    }
}

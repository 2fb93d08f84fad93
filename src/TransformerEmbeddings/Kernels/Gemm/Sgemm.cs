using System.Runtime.CompilerServices;

namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// The fp32 GEMM driver, the same for every instruction set: <c>Y[m, n] = Σₖ X[m, k] · W[n, k] + b[n]</c> (then the
/// exact GELU if asked) with W packed once (<see cref="PackedWeights"/>) for the table's micro-kernel. Work is cut by
/// <see cref="GemmSplit"/>; each item runs the micro-kernel over its panels per k-block with its rows of X read in
/// place (no packing pass), so a panel slice stays in L1/L2 while the item's rows stream past it.
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
    }

    /// <summary>Runs the whole product on up to <paramref name="threads"/> threads.</summary>
    public static void Multiply(in SgemmKernel kernel, in Problem p, int threads)
    {
        var job = new Job { Kernel = kernel, Problem = p, Split = new GemmSplit(p.Rows, kernel.Rows, p.K, p.N, p.Panels, threads) };
        TileWorkers.For(job.Split.Items, job.Split.Threads, &job, &Item);
    }

    private static int KBlockFor(int rows, int k) => rows <= WholeKUpToRows ? k : KBlock;

    /// <summary>Computes rows [<paramref name="r0"/>, <paramref name="r1"/>) × panels [<paramref name="p0"/>, <paramref name="p1"/>) on this thread.</summary>
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)] // its stackalloc is written before it is read
    public static void Run(in SgemmKernel kernel, in Problem p, int r0, int r1, int p0, int p1)
    {
        int mr = kernel.Rows, nr = kernel.Columns, rows = r1 - r0;
        if (rows <= 0) return;
        int kBlock = KBlockFor(p.Rows, p.K);
        float* edge = stackalloc float[mr * nr];
        for (int k0 = 0; k0 < p.K; k0 += kBlock)
        {
            int kc = Math.Min(kBlock, p.K - k0);
            bool first = k0 == 0, last = k0 + kc >= p.K;
            for (int panel = p0; panel < p1; panel++)
            {
                float* w = p.W + ((long)panel * p.K + k0) * nr;
                int col = panel * nr, cols = Math.Min(nr, p.N - col);
                float* bias = first ? p.Bias + col : null;
                for (int t = 0; t < rows; t += mr)
                {
                    int n = Math.Min(mr, rows - t);
                    float* a = p.X + (long)(r0 + t) * p.LdX + k0;
                    float* y = p.Y + (long)(r0 + t) * p.LdY + col;
                    if (cols == nr) kernel.Multiply(a, p.LdX, w, kc, y, p.LdY, n, bias);
                    else Edge(kernel, a, p.LdX, w, kc, y, p.LdY, n, cols, bias, edge);
                    if (last && p.Gelu) Epilogue.Gelu(y, p.LdY, n, cols, kernel.Isa);
                }
            }
        }
    }

    /// <summary>A tile past the last whole panel: computed into a scratch tile holding the current values, then copied.</summary>
    private static void Edge(in SgemmKernel kernel, float* a, int lda, float* w, int kc, float* y, int ldy, int rows, int cols, float* bias, float* tile)
    {
        int nr = kernel.Columns;
        if (bias is null)
            for (int i = 0; i < rows; i++) new ReadOnlySpan<float>(y + (long)i * ldy, cols).CopyTo(new Span<float>(tile + i * nr, cols));
        kernel.Multiply(a, lda, w, kc, tile, nr, rows, bias);
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

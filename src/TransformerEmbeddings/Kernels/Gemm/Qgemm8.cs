using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// The 8-bit layers' GEMM where the CPU multiplies bytes (AVX512-VNNI's <c>vpdpbusd</c>, four products a step: twice
/// the 12-bit kernel's rate): activations quantised per row to ±<see cref="Qgemm.ByteLevels"/> and stored as unsigned
/// bytes q + 128, weights as <see cref="ByteWeights"/>. Flushed to fp32 where <see cref="Qgemm"/> flushes (every
/// <see cref="KBlockQuads"/> quads = <see cref="Qgemm.KBlockPairs"/> pairs) with the same arithmetic, so the outputs
/// are those of <see cref="Qgemm"/> on the same 8-bit values, bit for bit, on every CPU.
/// </summary>
internal static unsafe class Qgemm8
{
    /// <summary>Input quads per flush: the 12-bit kernels' k-block, so the fp32 sums round alike.</summary>
    public const int KBlockQuads = Qgemm.KBlockPairs / 2;

    /// <summary>Whether this process can run it (<see cref="QgemmAvx512Vnni.IsAvailable"/>).</summary>
    public static bool IsAvailable => QgemmAvx512Vnni.IsAvailable;

    private const int Mr = QgemmAvx512.Rows, Nr = QgemmAvx512.Columns;

    /// <summary>One GEMM's operands; pointers stay valid for the call.</summary>
    internal struct Problem
    {
        /// <summary>The fp32 activations, <see cref="Rows"/> × <see cref="K"/>.</summary>
        public float* Source;
        /// <summary>K.</summary>
        public int K;
        /// <summary>Room for the quantised activations, <see cref="Rows"/> × <see cref="ByteWeights.Quads"/> quads.</summary>
        public byte* X;
        /// <summary>Room for each activation row's scale (readable up to <see cref="Rows"/> + MR).</summary>
        public float* XScale;
        /// <summary>The weights.</summary>
        public sbyte* W;
        /// <summary>Each output channel's scale, padded to whole panels.</summary>
        public float* WScale;
        /// <summary>The bias, padded to whole panels.</summary>
        public float* Bias;
        /// <summary><see cref="ByteWeights.Compensation"/>.</summary>
        public int* Compensation;
        /// <summary>The output, <see cref="Rows"/> × <see cref="N"/>, row stride <see cref="LdY"/>.</summary>
        public float* Y;
        /// <summary>Floats between rows of <see cref="Y"/>.</summary>
        public int LdY;
        /// <summary>M.</summary>
        public int Rows;
        /// <summary>K / 4, rounded up.</summary>
        public int Quads;
        /// <summary>N.</summary>
        public int N;
        /// <summary>⌈N / NR⌉.</summary>
        public int Panels;
        /// <summary>⌈Quads / KBlockQuads⌉.</summary>
        public int Blocks;
        /// <summary>Apply the fast mode's GELU to the finished outputs.</summary>
        public bool Gelu;
    }

    /// <summary>Runs the whole product on up to <paramref name="threads"/> threads.</summary>
    /// <exception cref="PlatformNotSupportedException">The kernel is not <see cref="IsAvailable"/>.</exception>
    public static void Multiply(in Problem p, int threads)
    {
        if (!IsAvailable) throw new PlatformNotSupportedException("The 8-bit GEMM needs the AVX512-VNNI kernel.");
        var job = new Job { Problem = p, Split = new GemmSplit(p.Rows, Mr, 4 * p.Quads, p.N, p.Panels, threads) };
        // With one item per block of rows each item quantises its rows while they are in cache; else a pass does it first.
        job.QuantizeInItems = job.Split.PanelChunks == 1;
        if (!job.QuantizeInItems) TileWorkers.For(job.Split.RowChunks, job.Split.Threads, &job, &QuantizeItem);
        TileWorkers.For(job.Split.Items, job.Split.Threads, &job, &Item);
    }

    private struct Job
    {
        public Problem Problem;
        public GemmSplit Split;
        public bool QuantizeInItems;
    }

    private static void QuantizeItem(void* context, int chunk)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        var (r0, r1) = job.Split.RowRange(chunk);
        QuantizeRows(in job.Problem, r0, r1);
    }

    private static void QuantizeRows(in Problem p, int r0, int r1)
    {
        for (int r = r0; r < r1; r++)
            Quantize(p.Source + (long)r * p.K, p.K, p.X + (long)r * p.Quads * 4, p.Quads, p.XScale + r);
    }

    private static void Item(void* context, int item)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        var (r0, r1, p0, p1) = job.Split.Item(item);
        if (job.QuantizeInItems) QuantizeRows(in job.Problem, r0, r1);
        Run(in job.Problem, r0, r1, p0, p1);
    }

    /// <summary>Rows [<paramref name="r0"/>, <paramref name="r1"/>) × panels [<paramref name="p0"/>, <paramref name="p1"/>), rows already quantised.</summary>
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)] // its stackalloc is written before it is read
    private static void Run(in Problem p, int r0, int r1, int p0, int p1)
    {
        int rows = r1 - r0;
        long lda = 4L * p.Quads;
        float* edge = stackalloc float[Mr * Nr];
        for (int q0 = 0, block = 0; q0 < p.Quads; q0 += KBlockQuads, block++)
        {
            int pc = Math.Min(KBlockQuads, p.Quads - q0);
            bool first = q0 == 0, last = q0 + pc >= p.Quads;
            for (int panel = p0; panel < p1; panel++)
            {
                sbyte* w = p.W + ((long)panel * p.Quads + q0) * 4 * Nr;
                int col = panel * Nr, cols = Math.Min(Nr, p.N - col);
                float* bias = first ? p.Bias + col : null;
                int* compensation = p.Compensation + ((long)panel * p.Blocks + block) * Nr;
                for (int t = 0; t < rows; t += Mr)
                {
                    int n = Math.Min(Mr, rows - t);
                    byte* a = p.X + (r0 + t) * lda + 4L * q0;
                    float* y = p.Y + (long)(r0 + t) * p.LdY + col;
                    float* scales = p.XScale + r0 + t;
                    if (cols == Nr) QgemmAvx512Vnni.MultiplyBytes(a, lda, w, pc, y, p.LdY, n, scales, p.WScale + col, bias, compensation);
                    else
                    {
                        if (bias is null)
                            for (int i = 0; i < n; i++) new ReadOnlySpan<float>(y + (long)i * p.LdY, cols).CopyTo(new Span<float>(edge + i * Nr, cols));
                        QgemmAvx512Vnni.MultiplyBytes(a, lda, w, pc, edge, Nr, n, scales, p.WScale + col, bias, compensation);
                        for (int i = 0; i < n; i++) new ReadOnlySpan<float>(edge + i * Nr, cols).CopyTo(new Span<float>(y + (long)i * p.LdY, cols));
                    }
                    if (last && p.Gelu) Epilogue.GeluFast(y, p.LdY, n, cols, InstructionSet.Avx512);
                }
            }
        }
    }

    /// <summary>
    /// Quantises a row as <see cref="Qgemm.Quantize(float*, int, short*, int, float*, int)"/> does at
    /// <see cref="Qgemm.ByteLevels"/> (the same values and scale), stored as q + 128 in 4·quads bytes (128, a zero,
    /// pads K).
    /// </summary>
    public static void Quantize(float* x, int k, byte* q, int quads, float* scale)
    {
        float max = Qgemm.MaxMagnitude(x, k);
        float inverse = max > 0 && float.IsFinite(max) ? Qgemm.ByteLevels / max : 0;
        *scale = float.IsFinite(max) ? max / Qgemm.ByteLevels : float.NaN;
        int i = 0;
        if (Avx512F.IsSupported)
        {
            // |x · inverse| ≤ 127 rounds within a byte: vpmovsdb's saturation never acts, as the shorts' never does.
            var inv16 = Vector512.Create(inverse);
            var offset = Vector128.Create((byte)0x80);
            for (; i + 16 <= k; i += 16)
            {
                var bytes = Avx512F.ConvertToVector128SByteWithSaturation(Avx512F.ConvertToVector512Int32(Avx512F.Multiply(Avx512F.LoadVector512(x + i), inv16)));
                Sse2.Store(q + i, Sse2.Xor(bytes.AsByte(), offset));
            }
        }
        for (; i < k; i++) q[i] = (byte)((int)MathF.Round(x[i] * inverse, MidpointRounding.ToEven) + 128);
        for (; i < 4 * quads; i++) q[i] = 128;
    }
}

using System.Runtime.InteropServices;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Kernels.Gemm;
using TransformerEmbeddings.Runtime;
using Xunit;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>
/// The integer micro-kernels called directly, in the layouts the driver packs, on blocks of up to 192 pairs (the
/// longest run of exact 32-bit sums): every kernel this machine runs, the AVX512-VNNI machine code among them where
/// it runs, writes the scalar kernel's bits, for partial row tiles, odd K, with bias or onto C, NaN-scale rows and the
/// extreme ±2047 operands whose sums come closest to 2³¹.
/// </summary>
public sealed unsafe class QgemmMicroKernelTests
{
    private const int N = 48; // a multiple of every kernel's NR (8, 16, 48)

    public static TheoryData<int> RowCounts() => [1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 16];

    [Theory]
    [MemberData(nameof(RowCounts))]
    public void Every_integer_kernel_writes_the_scalar_kernel_s_bits(int rows)
    {
        var kernels = KernelTables.Integer().ToArray();
        Assert.Equal(InstructionSet.Scalar, kernels[0].Isa);
        foreach (int pc in new[] { 1, 2, 3, 7, 31, 64, 95, 127, 191, 192 })
            foreach (var operands in new[] { Operands.Random, Operands.Largest, Operands.LargestNegative })
                foreach (bool oddK in new[] { false, true })
                    foreach (bool withBias in new[] { false, true })
                    {
                        var rnd = new Random(HashCode.Combine(rows, pc, operands, oddK, withBias));
                        var qx = Values(rnd, rows * 2 * pc, operands == Operands.Random ? null : (short)-Qgemm.Levels);
                        var qw = Values(rnd, N * 2 * pc, operands switch { Operands.Largest => (short)-Qgemm.Levels, Operands.LargestNegative => (short)Qgemm.Levels, _ => null });
                        if (oddK) // the driver pads an odd K with a zero activation
                            for (int r = 0; r < rows; r++) qx[(r + 1) * 2 * pc - 1] = 0;
                        var rowScales = KernelTables.Random(rnd, rows).Select(s => Math.Abs(s) / Qgemm.Levels).ToArray();
                        if (rows > 2) // a row holding NaN: scale NaN, values zero (Qgemm.Quantize)
                        {
                            rowScales[rows / 2] = float.NaN;
                            Array.Clear(qx, rows / 2 * 2 * pc, 2 * pc);
                        }
                        var colScales = KernelTables.Random(rnd, N).Select(s => Math.Abs(s) / Qgemm.Levels).ToArray();
                        var bias = withBias ? KernelTables.Random(rnd, N) : null;
                        var c = KernelTables.Random(rnd, rows * N);
                        var expected = Bits(Run(kernels[0].Qgemm, qx, qw, rows, pc, rowScales, colScales, bias, c));
                        foreach (var table in kernels.Skip(1))
                            Assert.True(expected.SequenceEqual(Bits(Run(table.Qgemm, qx, qw, rows, pc, rowScales, colScales, bias, c))),
                                $"{table}: {rows} rows, {pc} pairs, {operands}, odd K {oddK}, bias {withBias}");
                        foreach (var table in kernels.Where(t => t.Qgemm.MultiplyRows != null))
                            Assert.True(expected.SequenceEqual(Bits(RunInPlace(table.Qgemm, qx, qw, rows, pc, rowScales, colScales, bias, c))),
                                $"{table}, rows in place: {rows} rows, {pc} pairs, {operands}, odd K {oddK}, bias {withBias}");
                    }
    }

    [Fact]
    public void The_extreme_sums_stay_exact()
    {
        // 192 pairs of 2047 · 2047 twice: 1,609,039,872, the largest sum a k-block can hold; a float scale of 1 shows it.
        int pc = Qgemm.KBlockPairs;
        var qx = Enumerable.Repeat((short)-Qgemm.Levels, 2 * pc).ToArray();
        var qw = Enumerable.Repeat((short)-Qgemm.Levels, N * 2 * pc).ToArray();
        foreach (var table in KernelTables.Integer())
        {
            var y = Run(table.Qgemm, qx, qw, 1, pc, [1f], Enumerable.Repeat(1f, N).ToArray(), new float[N], new float[N]);
            Assert.All(y, v => Assert.Equal((float)(2L * pc * Qgemm.Levels * Qgemm.Levels), v));
        }
    }

    [Fact]
    public void The_AVX512_VNNI_kernel_runs_wherever_the_CPU_has_it_on_x64_Linux()
    {
        // x64 Linux gives the JIT executable memory, so it gives this kernel some too: were it refused here, the tests
        // above would quietly compare the intrinsics kernels only.
        bool expected = CpuFeatures.Current.Avx512Vnni && OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;
        Assert.Equal(expected, QgemmAvx512Vnni.IsAvailable);
        Assert.Equal(expected, KernelTables.Integer().Any(t => t.Avx512Vnni));
        Assert.All(KernelTables.Integer().Where(t => t.Avx512Vnni), t => Assert.True(t.Qgemm.MultiplyRows != null)); // its in-place entry is checked above too
        if (!KernelTable.Runs(InstructionSet.Avx512)) return;
        Assert.Equal(expected, KernelTable.For(InstructionSet.Avx512).Avx512Vnni);
        Assert.False(KernelTable.For(InstructionSet.Avx512, avx512Vnni: false).Avx512Vnni);
    }

    public enum Operands { Random, Largest, LargestNegative }

    private static short[] Values(Random rnd, int count, short? all) =>
        Enumerable.Range(0, count).Select(_ => all ?? (short)rnd.Next(-Qgemm.Levels, Qgemm.Levels + 1)).ToArray();

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();

    /// <summary>As <see cref="Run"/>, with the kernel reading the rows of pairs where they lie (<see cref="QgemmKernel.MultiplyRows"/>),
    /// in a buffer that ends with the last row, so a read past it would leave the array.</summary>
    private static float[] RunInPlace(QgemmKernel kernel, short[] qx, short[] qw, int rows, int pc, float[] rowScales, float[] colScales, float[]? bias, float[] c)
    {
        int mr = kernel.Rows, nr = kernel.Columns;
        var y = (float[])c.Clone();
        var a = new int[rows * pc];
        for (int r = 0; r < rows; r++)
            for (int p = 0; p < pc; p++)
                a[r * pc + p] = (ushort)qx[r * 2 * pc + 2 * p] | qx[r * 2 * pc + 2 * p + 1] << 16;
        var scales = new float[rows + mr];
        Array.Copy(rowScales, scales, rows);
        var b = new short[2 * nr * pc];
        for (int j0 = 0; j0 < N; j0 += nr)
        {
            for (int p = 0; p < pc; p++)
                for (int j = 0; j < nr; j++)
                {
                    b[p * 2 * nr + 2 * j] = qw[(j0 + j) * 2 * pc + 2 * p];
                    b[p * 2 * nr + 2 * j + 1] = qw[(j0 + j) * 2 * pc + 2 * p + 1];
                }
            for (int r0 = 0; r0 < rows; r0 += mr)
                fixed (int* pa = a)
                fixed (short* pb = b)
                fixed (float* py = y, ps = scales, pcs = colScales, pbias = bias)
                    kernel.MultiplyRows(pa + r0 * pc, pc, pb, pc, py + r0 * N + j0, N, Math.Min(mr, rows - r0), ps + r0, pcs + j0, pbias is null ? null : pbias + j0);
        }
        return y;
    }

    /// <summary>C (rows × 48) after <paramref name="kernel"/> ran over it tile by tile: qx is rows × 2pc, qw 48 × 2pc, row-major.</summary>
    private static float[] Run(QgemmKernel kernel, short[] qx, short[] qw, int rows, int pc, float[] rowScales, float[] colScales, float[]? bias, float[] c)
    {
        int mr = kernel.Rows, nr = kernel.Columns;
        var y = (float[])c.Clone();
        var a = new int[mr * pc];             // ActivationPanels: pair p of row r at p · MR + r, missing rows zero
        var b = new short[2 * nr * pc];       // Int16Weights: pair p of column j at p · 2NR + 2j
        var scales = new float[mr];
        for (int r0 = 0; r0 < rows; r0 += mr)
        {
            int n = Math.Min(mr, rows - r0);
            Array.Clear(a);
            Array.Clear(scales);
            for (int r = 0; r < n; r++)
            {
                scales[r] = rowScales[r0 + r];
                for (int p = 0; p < pc; p++)
                    a[p * mr + r] = (ushort)qx[(r0 + r) * 2 * pc + 2 * p] | qx[(r0 + r) * 2 * pc + 2 * p + 1] << 16;
            }
            for (int j0 = 0; j0 < N; j0 += nr)
            {
                for (int p = 0; p < pc; p++)
                    for (int j = 0; j < nr; j++)
                    {
                        b[p * 2 * nr + 2 * j] = qw[(j0 + j) * 2 * pc + 2 * p];
                        b[p * 2 * nr + 2 * j + 1] = qw[(j0 + j) * 2 * pc + 2 * p + 1];
                    }
                fixed (int* pa = a)
                fixed (short* pb = b)
                fixed (float* py = y, ps = scales, pcs = colScales, pbias = bias)
                    kernel.Multiply(pa, pb, pc, py + r0 * N + j0, N, n, ps, pcs + j0, pbias is null ? null : pbias + j0);
            }
        }
        return y;
    }
}

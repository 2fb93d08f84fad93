namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>The portable 12-bit integer micro-kernel: the vector kernels' integers and float epilogue in plain C#.</summary>
internal static unsafe class QgemmScalar
{
    /// <summary>MR.</summary>
    public const int Rows = 4;

    /// <summary>NR.</summary>
    public const int Columns = 8;

    /// <summary>The descriptor.</summary>
    public static QgemmKernel Kernel => new(Rows, Columns, InstructionSet.Scalar, &Multiply);

    private static void Multiply(int* a, short* b, int pc, float* c, int ldc, int rows, float* rowScales, float* colScales, float* bias)
    {
        int* acc = stackalloc int[Rows * Columns];
        new Span<int>(acc, Rows * Columns).Clear();
        for (int p = 0; p < pc; p++, a += Rows, b += 2 * Columns)
            for (int r = 0; r < Rows; r++)
            {
                short x0 = (short)(a[r] & 0xFFFF), x1 = (short)(a[r] >> 16);
                for (int j = 0; j < Columns; j++) acc[r * Columns + j] += x0 * b[2 * j] + x1 * b[2 * j + 1];
            }
        for (int r = 0; r < rows; r++)
        {
            float* row = c + (long)r * ldc;
            for (int j = 0; j < Columns; j++)
                row[j] = MathF.FusedMultiplyAdd(acc[r * Columns + j], colScales[j] * rowScales[r], bias is not null ? bias[j] : row[j]);
        }
    }
}

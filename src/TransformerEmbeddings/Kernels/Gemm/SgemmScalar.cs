namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// The portable fp32 micro-kernel: the vector kernels' arithmetic (one fused multiply-add chain per output, in k
/// order, then the bias) in plain C#, so the tests can check every driver path on any CPU and compare bits.
/// </summary>
internal static unsafe class SgemmScalar
{
    /// <summary>MR.</summary>
    public const int Rows = 4;

    /// <summary>NR.</summary>
    public const int Columns = 8;

    /// <summary>The descriptor.</summary>
    public static SgemmKernel Kernel => new(Rows, Columns, InstructionSet.Scalar, &Multiply);

    private static void Multiply(float* a, int lda, float* b, int kc, float* c, int ldc, int rows, float* bias)
    {
        float* acc = stackalloc float[Rows * Columns];
        new Span<float>(acc, Rows * Columns).Clear();
        for (int k = 0; k < kc; k++, b += Columns)
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < Columns; j++)
                    acc[r * Columns + j] = MathF.FusedMultiplyAdd(a[r * (long)lda + k], b[j], acc[r * Columns + j]);
        for (int r = 0; r < rows; r++)
        {
            float* row = c + (long)r * ldc;
            for (int j = 0; j < Columns; j++) row[j] = acc[r * Columns + j] + (bias is not null ? bias[j] : row[j]);
        }
    }
}

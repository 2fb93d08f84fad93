namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// One instruction set's fp32 micro-kernel: <c>C[rows × NR] = Σₖ A[r, k] · B[k, j] (+ bias[j])</c>, or <c>C += Σ</c>
/// without a bias, with the tile's rows of activations read where they lie (row r at <c>a + r · lda</c>; a short tile
/// repeats its last row, whose sums are never stored) and a weight panel (<see cref="PackedWeights"/>: kc ×
/// <see cref="Columns"/>). Every output is a plain left-to-right chain of fused multiply-adds over k, so all kernels
/// give the same bits.
/// </summary>
internal readonly unsafe struct SgemmKernel
{
    /// <summary>The micro-kernel: (a, lda, b, kc, c, ldc, rows, bias or null).</summary>
    public readonly delegate*<float*, int, float*, int, float*, int, int, float*, void> Multiply;

    /// <summary>Describes a micro-kernel.</summary>
    public SgemmKernel(int rows, int columns, InstructionSet isa, delegate*<float*, int, float*, int, float*, int, int, float*, void> multiply)
    {
        Rows = rows;
        Columns = columns;
        Isa = isa;
        Multiply = multiply;
    }

    /// <summary>MR: rows per tile.</summary>
    public int Rows { get; }

    /// <summary>NR: output channels per weight panel.</summary>
    public int Columns { get; }

    /// <summary>The instruction set (also picks the width of the epilogue).</summary>
    public InstructionSet Isa { get; }
}

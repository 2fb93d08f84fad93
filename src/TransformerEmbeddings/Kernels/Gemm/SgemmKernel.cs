namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// One instruction set's fp32 micro-kernel: <c>C[rows × NR] = Σₖ A[k, r] · B[k, j] (+ bias[j])</c>, or <c>C += Σ</c>
/// without a bias, over a packed activation micro-panel (<see cref="ActivationPanels"/>: kc × <see cref="Rows"/>,
/// k-major) and a weight panel (<see cref="PackedWeights"/>: kc × <see cref="Columns"/>). Every output is a plain
/// left-to-right chain of fused multiply-adds over k, so all kernels give the same bits. A kernel may also read the
/// activations where they lie (<see cref="MultiplyRows"/>): the same chain without packing them first.
/// </summary>
internal readonly unsafe struct SgemmKernel
{
    /// <summary>The micro-kernel: (a, b, kc, c, ldc, rows, bias or null).</summary>
    public readonly delegate*<float*, float*, int, float*, int, int, float*, void> Multiply;

    /// <summary>
    /// The micro-kernel on unpacked activations, or null: (a, lda, b, kc, c, ldc, rows, bias or null), row r of the tile
    /// at <c>a + r · lda</c>; rows past <c>rows</c> are never read.
    /// </summary>
    public readonly delegate*<float*, int, float*, int, float*, int, int, float*, void> MultiplyRows;

    /// <summary>Describes a micro-kernel.</summary>
    public SgemmKernel(int rows, int columns, InstructionSet isa, delegate*<float*, float*, int, float*, int, int, float*, void> multiply,
        delegate*<float*, int, float*, int, float*, int, int, float*, void> multiplyRows = null)
    {
        Rows = rows;
        Columns = columns;
        Isa = isa;
        Multiply = multiply;
        MultiplyRows = multiplyRows;
    }

    /// <summary>MR: rows per tile.</summary>
    public int Rows { get; }

    /// <summary>NR: output channels per weight panel.</summary>
    public int Columns { get; }

    /// <summary>The instruction set (also picks the width of the epilogue).</summary>
    public InstructionSet Isa { get; }
}

namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// One instruction set's 12-bit integer micro-kernel (the fast mode): over pc input pairs, exact 32-bit sums
/// <c>Σ qx[r, 2p]·qw[j, 2p] + qx[r, 2p+1]·qw[j, 2p+1]</c>, then <c>C = fma(sum, sx[r] · sw[j], bias[j] or C)</c>.
/// Activations come packed as 32-bit pairs (<see cref="ActivationPanels"/>), weights as <see cref="Int16Weights"/>.
/// The sums are exact integers, so every kernel gives the same bits. A kernel may also read the quantised rows where
/// they lie (<see cref="MultiplyRows"/>).
/// </summary>
internal readonly unsafe struct QgemmKernel
{
    /// <summary>The micro-kernel: (a, b, pc, c, ldc, rows, rowScales, colScales, bias or null).</summary>
    public readonly delegate*<int*, short*, int, float*, int, int, float*, float*, float*, void> Multiply;

    /// <summary>
    /// The micro-kernel on unpacked rows of pairs, or null: (a, lda, b, pc, c, ldc, rows, rowScales, colScales, bias or
    /// null), row r's pairs at <c>a + r · lda</c>; rows past <c>rows</c> are never read.
    /// </summary>
    public readonly delegate*<int*, int, short*, int, float*, int, int, float*, float*, float*, void> MultiplyRows;

    /// <summary>Describes a micro-kernel.</summary>
    public QgemmKernel(int rows, int columns, InstructionSet isa, delegate*<int*, short*, int, float*, int, int, float*, float*, float*, void> multiply,
        delegate*<int*, int, short*, int, float*, int, int, float*, float*, float*, void> multiplyRows = null)
    {
        Rows = rows;
        Columns = columns;
        Isa = isa;
        Multiply = multiply;
        MultiplyRows = multiplyRows;
    }

    /// <summary>MR.</summary>
    public int Rows { get; }

    /// <summary>NR.</summary>
    public int Columns { get; }

    /// <summary>The instruction set.</summary>
    public InstructionSet Isa { get; }
}

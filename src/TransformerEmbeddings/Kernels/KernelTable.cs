using System.Runtime.Intrinsics.X86;
using TransformerEmbeddings.Kernels.Gemm;

namespace TransformerEmbeddings.Kernels;

/// <summary>
/// The micro-kernels of one instruction set, chosen once (ONNX Runtime MLAS's platform table): the drivers
/// (<see cref="Sgemm"/>, <see cref="Qgemm"/>) are ISA-agnostic and call what this table holds.
/// </summary>
internal sealed class KernelTable
{
    private static readonly KernelTable Scalar = new(InstructionSet.Scalar, SgemmScalar.Kernel, SgemmScalar.Kernel, SgemmScalar.Kernel, QgemmScalar.Kernel);

    private KernelTable(InstructionSet isa, SgemmKernel sgemm, SgemmKernel narrow, SgemmKernel fewKeys, QgemmKernel qgemm, bool avx512Vnni = false)
    {
        Avx512Vnni = avx512Vnni;
        Isa = isa;
        Sgemm = sgemm;
        NarrowSgemm = narrow;
        FewKeysSgemm = fewKeys;
        Qgemm = qgemm;
    }

    /// <summary>The instruction set.</summary>
    public InstructionSet Isa { get; }

    /// <summary>The fp32 micro-kernel for linear layers (the widest tile this ISA has).</summary>
    public SgemmKernel Sgemm { get; }

    /// <summary>The fp32 micro-kernel for attention's products (16 or 32 columns: a 48-wide tile would multiply up to a third padding on a 32-channel head).</summary>
    public SgemmKernel NarrowSgemm { get; }

    /// <summary>The fp32 micro-kernel for the scores of at most 16 keys (a short sentence): 16 columns, no wider than <see cref="NarrowSgemm"/>.</summary>
    public SgemmKernel FewKeysSgemm { get; }

    /// <summary>The 12-bit integer micro-kernel of the fast mode.</summary>
    public QgemmKernel Qgemm { get; }

    /// <summary>Whether the integer kernel is <see cref="QgemmAvx512Vnni"/> (machine code) rather than intrinsics.</summary>
    public bool Avx512Vnni { get; }

    /// <summary>The best instruction set this CPU runs (<see cref="InstructionSet.None"/> without AVX2/FMA, where libtorch is faster than scalar C#).</summary>
    public static InstructionSet Best =>
        Avx512F.IsSupported && Avx512BW.IsSupported && Fma.IsSupported ? InstructionSet.Avx512
        : Avx2.IsSupported && Fma.IsSupported ? InstructionSet.Avx2
        : InstructionSet.None;

    /// <summary>Whether this CPU can run kernels of <paramref name="isa"/>.</summary>
    public static bool Runs(InstructionSet isa) => isa switch
    {
        InstructionSet.Scalar => true,
        InstructionSet.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        InstructionSet.Avx512 => Avx512F.IsSupported && Avx512BW.IsSupported && Fma.IsSupported,
        _ => false,
    };

    /// <summary>The instruction set, and AVX512-VNNI where the integer kernel uses it (tests and benchmarks).</summary>
    public override string ToString() => Avx512Vnni ? "Avx512-VNNI" : Isa.ToString();

    /// <summary>The table for <paramref name="isa"/>.</summary>
    /// <param name="isa">The instruction set.</param>
    /// <param name="avx512Vnni">For <see cref="InstructionSet.Avx512"/>: the AVX512-VNNI integer kernel where this process can run it
    /// (<see cref="QgemmAvx512Vnni.IsAvailable"/>); false forces the intrinsics kernel (comparisons).</param>
    /// <exception cref="PlatformNotSupportedException">This CPU lacks the instruction set, or it is <see cref="InstructionSet.None"/>.</exception>
    public static KernelTable For(InstructionSet isa, bool avx512Vnni = true)
    {
        if (!Runs(isa)) throw new PlatformNotSupportedException($"This CPU cannot run the {isa} kernels.");
        return isa switch
        {
            InstructionSet.Avx512 => avx512Vnni && QgemmAvx512Vnni.IsAvailable ? Avx512VnniTable.Value : Avx512Table.Value,
            InstructionSet.Avx2 => Avx2Table.Value,
            _ => Scalar,
        };
    }

    private static readonly Lazy<KernelTable> Avx2Table = new(() => new(InstructionSet.Avx2, SgemmAvx2.Kernel, SgemmAvx2.Kernel, SgemmAvx2.Kernel, QgemmAvx2.Kernel));
    private static readonly Lazy<KernelTable> Avx512Table = new(() => new(InstructionSet.Avx512, SgemmAvx512.Kernel, SgemmAvx512Narrow.Kernel, SgemmAvx512Narrow.Half, QgemmAvx512.Kernel));
    private static readonly Lazy<KernelTable> Avx512VnniTable = new(() => new(InstructionSet.Avx512, SgemmAvx512.Kernel, SgemmAvx512Narrow.Kernel, SgemmAvx512Narrow.Half, QgemmAvx512Vnni.Kernel, avx512Vnni: true));
}

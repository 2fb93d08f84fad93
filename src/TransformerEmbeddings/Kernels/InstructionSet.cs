namespace TransformerEmbeddings.Kernels;

/// <summary>The instruction sets the library's CPU kernels are written for, chosen once per model at load.</summary>
internal enum InstructionSet
{
    /// <summary>No library kernels: libtorch computes everything (CUDA, half precisions, CPUs without AVX2, comparisons).</summary>
    None,

    /// <summary>Plain C# loops: the same arithmetic in the same order as the vector kernels, on any CPU (tests).</summary>
    Scalar,

    /// <summary>AVX2 + FMA, 256-bit (with AVX-VNNI's <c>vpdpwssd</c> in the integer kernel where present).</summary>
    Avx2,

    /// <summary>AVX-512 F + BW, 512-bit.</summary>
    Avx512,
}

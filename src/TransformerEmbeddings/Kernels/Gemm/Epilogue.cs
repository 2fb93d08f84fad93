using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>What the drivers apply to a finished output tile while it is still in L1: the GELU of an up-projection.</summary>
internal static unsafe class Epilogue
{
    /// <summary>Replaces rows × cols values (row stride ldc) with their GELU, at the width of <paramref name="isa"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Gelu(float* c, int ldc, int rows, int cols, InstructionSet isa)
    {
        for (int r = 0; r < rows; r++)
        {
            float* row = c + (long)r * ldc;
            int j = 0;
            if (isa == InstructionSet.Avx512)
                for (; j + 16 <= cols; j += 16) Avx512F.Store(row + j, VectorMath.Gelu(Avx512F.LoadVector512(row + j)));
            if (isa >= InstructionSet.Avx2)
                for (; j + 8 <= cols; j += 8) Avx.Store(row + j, VectorMath.Gelu(Avx.LoadVector256(row + j)));
            for (; j < cols; j++) row[j] = VectorMath.Gelu(row[j]);
        }
    }

    /// <summary>The fast mode's GELU (<see cref="VectorMath.GeluFast(System.Runtime.Intrinsics.Vector512{float})"/>) in place, as <see cref="Gelu"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GeluFast(float* c, int ldc, int rows, int cols, InstructionSet isa)
    {
        for (int r = 0; r < rows; r++)
        {
            float* row = c + (long)r * ldc;
            int j = 0;
            if (isa == InstructionSet.Avx512)
                for (; j + 16 <= cols; j += 16) Avx512F.Store(row + j, VectorMath.GeluFast(Avx512F.LoadVector512(row + j)));
            if (isa >= InstructionSet.Avx2)
                for (; j + 8 <= cols; j += 8) Avx.Store(row + j, VectorMath.GeluFast(Avx.LoadVector256(row + j)));
            for (; j < cols; j++) row[j] = VectorMath.GeluFast(row[j]);
        }
    }
}

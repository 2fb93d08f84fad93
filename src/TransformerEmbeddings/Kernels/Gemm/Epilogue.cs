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
        if (isa == InstructionSet.Avx512 && cols == 48)
        {
            // The 512-bit kernels' whole tile: three independent vectors per row in flight, the constants loaded once per
            // tile (an inner loop per row reloaded them for every row): 17–18 → 11 cycles a vector on Zen 5. The exact GELU's
            // longer formula keeps the pipes busy either way (21 cycles a vector, unrolled or not).
            for (int r = 0; r < rows; r++)
            {
                float* row = c + (long)r * ldc;
                var a = VectorMath.GeluFast(Avx512F.LoadVector512(row));
                var b = VectorMath.GeluFast(Avx512F.LoadVector512(row + 16));
                var d = VectorMath.GeluFast(Avx512F.LoadVector512(row + 32));
                Avx512F.Store(row, a);
                Avx512F.Store(row + 16, b);
                Avx512F.Store(row + 32, d);
            }
            return;
        }
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

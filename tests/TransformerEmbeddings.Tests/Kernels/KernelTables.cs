using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Kernels.Gemm;
using Xunit;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>The instruction sets this machine runs: the scalar kernels everywhere, the vector ones where the CPU has them.</summary>
internal static class KernelTables
{
    /// <summary>Names of the runnable instruction sets (test parameters must be public types).</summary>
    public static TheoryData<string> Runnable()
    {
        var data = new TheoryData<string>();
        foreach (var isa in new[] { InstructionSet.Scalar, InstructionSet.Avx2, InstructionSet.Avx512 })
            if (KernelTable.Runs(isa)) data.Add(isa.ToString());
        return data;
    }

    public static InstructionSet Parse(string name) => Enum.Parse<InstructionSet>(name);

    public static IEnumerable<KernelTable> All() =>
        new[] { InstructionSet.Scalar, InstructionSet.Avx2, InstructionSet.Avx512 }.Where(KernelTable.Runs).Select(isa => KernelTable.For(isa, avx512Vnni: false));

    /// <summary>Every integer kernel this machine runs: one per instruction set, and the AVX512-VNNI machine code where it runs.</summary>
    public static IEnumerable<KernelTable> Integer() =>
        All().Concat(QgemmAvx512Vnni.IsAvailable ? [KernelTable.For(InstructionSet.Avx512)] : []);

    /// <summary>Names of <see cref="Integer"/>'s tables (<see cref="KernelTable.ToString"/>).</summary>
    public static TheoryData<string> IntegerNames()
    {
        var data = new TheoryData<string>();
        foreach (var table in Integer()) data.Add(table.ToString());
        return data;
    }

    /// <summary>The table <see cref="IntegerNames"/> named.</summary>
    public static KernelTable IntegerTable(string name) => Integer().Single(t => t.ToString() == name);

    public static float[] Random(Random rnd, int count, double scale = 1) =>
        Enumerable.Range(0, count).Select(_ => (float)((rnd.NextDouble() * 2 - 1) * scale)).ToArray();
}

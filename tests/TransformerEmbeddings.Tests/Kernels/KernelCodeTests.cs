using System.Reflection;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Kernels.Attention;
using TransformerEmbeddings.Kernels.Gemm;
using Xunit;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>What a model load compiles ahead of the first pass: the bound instruction set's kernels, each tile size of a generic one.</summary>
public sealed class KernelCodeTests
{
    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly;

    [Theory]
    [InlineData(nameof(SgemmAvx512Narrow), "Avx512", false)]
    [InlineData(nameof(SgemmAvx512Narrow), "Avx2", true)]
    [InlineData(nameof(QgemmAvx512Vnni), "Avx2", true)]
    [InlineData(nameof(QgemmAvx2), "Avx512", true)]
    [InlineData(nameof(QgemmAvx2), "Avx2", false)]
    [InlineData(nameof(SgemmScalar), "Avx512", true)]
    [InlineData(nameof(Sgemm), "Avx2", false)]
    [InlineData(nameof(CpuAttention), "Scalar", false)]
    public void Skips_only_the_kernels_named_for_another_instruction_set(string type, string isa, bool skipped) =>
        Assert.Equal(skipped, KernelCode.ForOtherSet(type, Enum.Parse<InstructionSet>(isa)));

    [Fact]
    public void Compiles_a_generic_kernel_for_every_tile_size_it_is_called_with()
    {
        var tile = typeof(SgemmAvx512Narrow).GetMethod("Tile", All)!;
        var made = KernelCode.Instantiations(typeof(SgemmAvx512Narrow), tile).Select(m => string.Join(",", m.GetGenericArguments().Select(t => t.Name))).ToList();
        Assert.Equal(new[] { "Eight,One", "Eight,Two", "Four,One", "Four,Two", "Twelve,One", "Twelve,Two" }, made.Order());
        var softmax = typeof(CpuAttention).GetMethod("ShortRows512", All, [typeof(float*), typeof(int), typeof(int), typeof(int), typeof(float*), typeof(float), typeof(float), typeof(float*)])!;
        Assert.True(softmax.IsGenericMethodDefinition);
        Assert.Equal(4, KernelCode.Instantiations(typeof(CpuAttention), softmax).Count());
    }
}

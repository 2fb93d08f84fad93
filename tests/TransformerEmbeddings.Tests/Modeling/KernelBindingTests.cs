using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Kernels.Gemm;
using TransformerEmbeddings.Runtime;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Modeling;

/// <summary>
/// Kernels are bound once per model: every instruction set computes the same model as libtorch, and capturing changes
/// what is recorded, not the result.
/// </summary>
public sealed class KernelBindingTests(ITestOutputHelper log)
{
    private static readonly string[] Texts =
        ["The kernel computes the same layer.", "Short", "A somewhat longer sentence, with punctuation, to pad the batch."];

    /// <summary>The last hidden state at real positions (padded positions are not part of the contract).</summary>
    private static float[] LastHiddenState(TransformerModel model, IReadOnlyList<string> texts, CaptureOptions? capture = null)
    {
        using var output = model.Encode(texts, capture);
        using var real = output.AttentionMask.to(ScalarType.Bool).unsqueeze(-1).expand_as(output.LastHiddenState);
        using var values = output.LastHiddenState.masked_select(real);
        return values.data<float>().ToArray();
    }

    [Theory]
    [InlineData("all-MiniLM-L6-v2")]
    [InlineData("bert-tiny-uncased")]
    [InlineData("roberta-tiny")]
    public void Every_instruction_set_computes_the_model_libtorch_computes(string name)
    {
        var (_, _, longText) = GoldenInputs.For(ModelCache.Get(name));
        var texts = Texts.Append(longText).ToList();
        using var libtorch = TransformerModel.Load(SharedData.Model(name), new ModelOptions { Kernels = InstructionSet.None });
        Assert.Contains("libtorch", libtorch.ComputePath);
        var reference = LastHiddenState(libtorch, texts);
        var scale = reference.Max(Math.Abs);
        var failures = new List<string>();
        foreach (var isa in new[] { InstructionSet.Scalar, InstructionSet.Avx2, InstructionSet.Avx512 }.Where(KernelTable.Runs))
        {
            using var model = TransformerModel.Load(SharedData.Model(name), new ModelOptions { Kernels = isa });
            var actual = LastHiddenState(model, texts);
            // libtorch and the kernels round differently; six layers of LayerNorm grow that to a few 1e-6.
            var worst = reference.Zip(actual, (a, p) => Math.Abs(a - p)).Max();
            log.WriteLine($"{name} {isa} ({model.ComputePath}): max diff to libtorch {worst:E2} (largest value {scale:F2})");
            if (worst >= 1e-5f * scale) failures.Add($"{isa}: max diff {worst} (largest value {scale})");
        }
        Assert.Empty(failures);
    }

    [Fact]
    public void The_AVX512_VNNI_integer_kernel_computes_the_intrinsics_kernel_s_bits()
    {
        // The fast mode on this CPU's best integer path, with the machine-code kernel allowed and refused (the same
        // model twice where the CPU lacks AVX512-VNNI or AVX-512).
        var isa = KernelTable.Best == InstructionSet.None ? InstructionSet.Scalar : KernelTable.Best;
        var (_, _, longText) = GoldenInputs.For(ModelCache.Get("all-MiniLM-L6-v2"));
        var texts = Texts.Append(longText).ToList();
        float[] Run(bool vnni)
        {
            var cpu = CpuFeatures.Current with { Amx = false, Avx512Vnni = vnni && CpuFeatures.Current.Avx512Vnni };
            using var model = TransformerModel.Load(SharedData.Model("all-MiniLM-L6-v2"), new ModelOptions { Precision = Precision.Fast, Kernels = isa, Cpu = cpu });
            bool used = vnni && isa == InstructionSet.Avx512 && QgemmAvx512Vnni.IsAvailable;
            log.WriteLine(model.ComputePath);
            Assert.Contains("12-bit integers", model.ComputePath);
            Assert.Equal(used, model.ComputePath.Contains("AVX512-VNNI"));
            return LastHiddenState(model, texts);
        }
        Assert.Equal(Run(vnni: false), Run(vnni: true));
    }

    [Fact]
    public void Capturing_changes_what_is_recorded_not_the_result()
    {
        var model = ModelCache.Get("all-MiniLM-L6-v2");
        var plain = LastHiddenState(model, Texts);
        var captured = LastHiddenState(model, Texts, new CaptureOptions { Kinds = ActivationKind.All });
        Assert.Equal(plain, captured);
    }

    [Fact]
    public void The_default_binding_is_this_CPU_s_best_kernels()
    {
        var model = ModelCache.Get("bert-tiny-uncased");
        var expected = KernelTable.Best switch
        {
            InstructionSet.Avx512 => "AVX-512 kernels",
            InstructionSet.Avx2 => "AVX2 kernels",
            _ => "libtorch",
        };
        Assert.Contains(expected, model.ComputePath);
        Assert.Equal(ScalarType.Float32, model.DType);
    }
}

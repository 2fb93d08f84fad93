using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Runtime;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Modeling;

/// <summary>
/// Every family on every binding: libtorch only, each instruction set of the library's kernels, the fast mode and the
/// half precisions — the same model, within the parity tolerance of the reference where exact.
/// </summary>
public sealed class FamilyKernelTests(ITestOutputHelper log)
{
    private static float Cosine(float[] a, float[] b) => (float)a.Zip(b).Sum(p => (double)p.First * p.Second);

    [Theory]
    [MemberData(nameof(FamilyFixtures.AllModels), MemberType = typeof(FamilyFixtures))]
    public void Every_instruction_set_and_libtorch_match_the_reference(string model)
    {
        var golden = FamilyFixtures.Golden(model);
        var failures = new List<string>();
        foreach (var isa in new[] { InstructionSet.None, InstructionSet.Scalar, InstructionSet.Avx2, InstructionSet.Avx512 }
                     .Where(i => i == InstructionSet.None || KernelTable.Runs(i)))
        {
            using var m = TransformerModel.Load(FamilyFixtures.Folder(model), new ModelOptions { Kernels = isa });
            var worst = 0.0;
            foreach (var batch in new[] { "", "pairs.", "long." })
            {
                using var inputs = FamilyParityTests.IdInputs(m, golden, batch);
                using var plain = m.Encode(inputs);
                using var traced = m.Encode(inputs, CaptureOptions.Everything);
                var mask = golden[batch + "attention_mask"];
                worst = Math.Max(worst, TensorAssert.MaxAbsDiff(golden[batch + "last_hidden_state"], plain.LastHiddenState, mask));
                worst = Math.Max(worst, TensorAssert.MaxAbsDiff(golden[batch + "last_hidden_state"], traced.LastHiddenState, mask));
                if (batch != "long." && golden.Has(batch + "attentions.0"))
                    worst = Math.Max(worst, TensorAssert.MaxAbsDiff(golden[batch + "attentions.0"], traced.Attentions(0), mask, 2));
            }
            log.WriteLine($"{model} {isa} ({m.ComputePath}): max abs diff to the reference {worst:E2}");
            if (worst > EncoderParityTests.Tolerance) failures.Add($"{isa}: {worst:E3}");
        }
        Assert.Empty(failures);
    }

    [Theory]
    [MemberData(nameof(FamilyFixtures.AllModels), MemberType = typeof(FamilyFixtures))]
    public void Capturing_changes_what_is_recorded_not_the_result(string model)
    {
        var m = FamilyFixtures.Model(model);
        var (sentences, _, _) = GoldenInputs.For(m);
        using var plain = m.Encode(sentences);
        using var captured = m.Encode(sentences, CaptureOptions.Everything);
        TensorAssert.Equal(plain.LastHiddenState, captured.LastHiddenState, plain.AttentionMask, $"{model} with every capture");
    }

    [Theory]
    [MemberData(nameof(FamilyFixtures.AllModels), MemberType = typeof(FamilyFixtures))]
    public void Fast_mode_stays_within_cosine_0_999_of_exact(string model)
    {
        var exact = FamilyFixtures.Model(model);
        using var fast = TransformerModel.Load(FamilyFixtures.Folder(model), PrecisionTests.IntegerFastMode);
        Assert.Contains("12-bit integers", fast.ComputePath);
        var (sentences, _, longText) = GoldenInputs.For(exact);
        var texts = sentences.Append(longText).ToList();
        using var a = exact.Encode(texts);
        using var b = fast.Encode(texts);
        var va = a.Tokens().Mean().Normalize();
        var vb = b.Tokens().Mean().Normalize();
        var cosines = Enumerable.Range(0, va.Count).Select(i => Cosine(va.RowArray(i), vb.RowArray(i))).ToList();
        log.WriteLine($"{model}: fast mode minimum cosine to exact {cosines.Min():F7}");
        Assert.True(cosines.Min() >= 0.999, $"{model}: minimum cosine {cosines.Min():F7}");
        Assert.NotEqual(a.LastHiddenState.data<float>().ToArray(), b.LastHiddenState.data<float>().ToArray()); // else fp32 ran
    }

    [Theory]
    [InlineData("distilbert-tiny", Precision.BFloat16)]
    [InlineData("mpnet-tiny", Precision.BFloat16)]
    [InlineData("mpnet-tiny", Precision.Float16)]
    [InlineData("xlmr-tiny", Precision.Float16)]
    public void Half_precisions_run_every_family_close_to_float32(string model, Precision precision)
    {
        var exact = FamilyFixtures.Model(model);
        using var reduced = TransformerModel.Load(FamilyFixtures.Folder(model), new ModelOptions { Precision = precision });
        Assert.NotEqual(ScalarType.Float32, reduced.DType);
        var (sentences, _, _) = GoldenInputs.For(exact);
        using var a = exact.Encode(sentences);
        using var b = reduced.Encode(sentences, new CaptureOptions { Kinds = ActivationKind.Attentions });
        var va = a.Tokens().Mean().Normalize();
        var vb = b.Tokens().Mean().Normalize();
        var worst = Enumerable.Range(0, va.Count).Min(i => Cosine(va.RowArray(i), vb.RowArray(i)));
        log.WriteLine($"{model} {precision}: minimum cosine to float32 {worst:F6}");
        Assert.True(worst >= 0.99, $"{model} {precision}: minimum cosine {worst:F6}");
    }
}

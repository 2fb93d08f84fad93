using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Runtime;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Modeling;

/// <summary>Reduced precisions are opt-in and stay close to the exact float32 vectors.</summary>
public sealed class PrecisionTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData(Precision.BFloat16, 0.999)]
    [InlineData(Precision.Float16, 0.999)]
    public void Reduced_precision_sentence_vectors_stay_close_to_float32(Precision precision, double minimumCosine)
    {
        var exact = ModelCache.Get("all-MiniLM-L6-v2");
        using var reduced = TransformerModel.Load(SharedData.Model("all-MiniLM-L6-v2"), new ModelOptions { Precision = precision });
        Assert.Equal(precision == Precision.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float16, reduced.DType);
        var (sentences, _, _) = GoldenInputs.For(exact);

        using var a = exact.Encode(sentences);
        using var b = reduced.Encode(sentences);
        var va = a.Tokens().Mean().Normalize();
        var vb = b.Tokens().Mean().Normalize();
        var worst = Enumerable.Range(0, va.Count).Min(i => va.RowArray(i).Zip(vb.RowArray(i)).Sum(p => (double)p.First * p.Second));
        log.WriteLine($"{precision}: minimum cosine to float32 {worst:F6}");
        Assert.True(worst >= minimumCosine, $"{precision}: minimum cosine {worst:F6}");
    }

    /// <summary>The fast mode as an AVX2 CPU without BF16 resolves it (the integer kernel), on whatever CPU runs the tests.</summary>
    internal static ModelOptions IntegerFastMode { get; } = new() { Precision = Precision.Fast, Cpu = new CpuFeatures(Avx2Fma: true, Bf16: false) };

    [Fact]
    public void Fast_mode_on_an_AVX2_CPU_runs_linear_layers_on_12_and_8_bit_integers_within_cosine_0_9998()
    {
        var exact = ModelCache.Get("all-MiniLM-L6-v2");
        using var fast = TransformerModel.Load(SharedData.Model("all-MiniLM-L6-v2"), IntegerFastMode);
        Assert.Equal(ScalarType.Float32, fast.DType);
        Assert.Contains("12-bit integers, attention's query and output on 8", fast.ComputePath);
        Assert.Contains("exact", exact.ComputePath);
        var (sentences, _, _) = GoldenInputs.For(exact);

        using var a = exact.Encode(sentences);
        using var b = fast.Encode(sentences);
        var va = a.Tokens().Mean().Normalize();
        var vb = b.Tokens().Mean().Normalize();
        var cosines = Enumerable.Range(0, va.Count).Select(i => va.RowArray(i).Zip(vb.RowArray(i)).Sum(p => (double)p.First * p.Second)).ToList();
        log.WriteLine($"Fast: minimum cosine to float32 {cosines.Min():F7}");
        // 12 bits alone gave 0.99995; attention's query and output on 8 bits (twice the multiply rate with AVX512-VNNI) 0.9998.
        Assert.True(cosines.Min() >= 0.9998, $"minimum cosine {cosines.Min():F7}");
        Assert.True(cosines.Max() < 1 - 1e-9, "the fast path was not taken"); // exactly equal vectors would mean fp32 ran

        // Internals are captured the same way in the fast mode.
        using var inside = fast.Encode(sentences, new Inspection.CaptureOptions { Kinds = Inspection.ActivationKind.Attentions });
        var sums = inside.Attentions(-1).sum(-1);
        Assert.True(sums.masked_select(a.AttentionMask.unsqueeze(1).to(ScalarType.Bool).expand_as(sums)).sub(1).abs().max().item<float>() < 1e-5f);
    }

    [Theory]
    [InlineData("bert-tiny-uncased")]
    [InlineData("bert-tiny-cased-sharded")]
    [InlineData("roberta-tiny")]
    public void Fast_mode_stays_within_cosine_0_999_on_every_test_model(string name)
    {
        var exact = ModelCache.Get(name);
        using var fast = TransformerModel.Load(SharedData.Model(name), IntegerFastMode);
        var (sentences, _, longText) = GoldenInputs.For(exact);
        using var a = exact.Encode(sentences.Append(longText).ToList());
        using var b = fast.Encode(sentences.Append(longText).ToList());
        var va = a.Tokens().Mean().Normalize();
        var vb = b.Tokens().Mean().Normalize();
        var worst = Enumerable.Range(0, va.Count).Min(i => va.RowArray(i).Zip(vb.RowArray(i)).Sum(p => (double)p.First * p.Second));
        log.WriteLine($"{name}: fast mode minimum cosine to float32 {worst:F7}");
        Assert.True(worst >= 0.999, $"{name}: minimum cosine {worst:F7}");
    }

    [Fact]
    public void A_fast_model_leaves_an_exact_model_on_the_same_thread_exact()
    {
        var exact = ModelCache.Get("bert-tiny-uncased");
        using var fast = TransformerModel.Load(SharedData.Model("bert-tiny-uncased"), IntegerFastMode);
        string[] texts = ["The fast mode is a per-model choice.", "It never leaks into another model."];
        using var before = exact.Encode(texts);
        using var quantised = fast.Encode(texts);
        using var after = exact.Encode(texts);
        Assert.Equal(before.LastHiddenState.data<float>().ToArray(), after.LastHiddenState.data<float>().ToArray());
        Assert.NotEqual(before.LastHiddenState.data<float>().ToArray(), quantised.LastHiddenState.data<float>().ToArray());
    }

    [Fact]
    public void Fast_and_exact_models_encoding_concurrently_each_keep_their_own_path()
    {
        var exact = ModelCache.Get("bert-tiny-uncased");
        using var fast = TransformerModel.Load(SharedData.Model("bert-tiny-uncased"), IntegerFastMode);
        string[] texts = ["Two models, two paths, one thread pool.", "Each forward decides on its own thread."];
        float[] Run(TransformerModel m)
        {
            using var o = m.Encode(texts);
            return o.LastHiddenState.data<float>().ToArray();
        }
        var (expectedExact, expectedFast) = (Run(exact), Run(fast));
        var results = new float[16][];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => results[i] = Run(i % 2 == 0 ? exact : fast));
        for (var i = 0; i < results.Length; i++) Assert.Equal(i % 2 == 0 ? expectedExact : expectedFast, results[i]);
    }

    [Theory]
    [InlineData(Precision.Float32, false, "avx2", ScalarType.Float32, "Float32", "Avx2")]
    [InlineData(Precision.Float32, false, "avx512", ScalarType.Float32, "Float32", "Avx512")]
    [InlineData(Precision.Float32, false, "", ScalarType.Float32, "Libtorch", "None")]
    [InlineData(Precision.BFloat16, false, "avx512", ScalarType.BFloat16, "Libtorch", "None")]
    [InlineData(Precision.Float16, true, "avx2", ScalarType.Float16, "Libtorch", "None")]
    [InlineData(Precision.Fast, false, "avx2", ScalarType.Float32, "Int16", "Avx2")]          // AVX2: 12-bit integers
    [InlineData(Precision.Fast, false, "avx2 vnni", ScalarType.Float32, "Int16", "Avx2")]     // AVX-VNNI: the same, one instruction
    [InlineData(Precision.Fast, false, "avx512 bf16", ScalarType.Float32, "Int16", "Avx512")] // Zen 4/5: 512-bit integers
    [InlineData(Precision.Fast, false, "avx512 bf16 amx", ScalarType.BFloat16, "Libtorch", "None")] // AMX: bf16 tiles
    [InlineData(Precision.Fast, false, "", ScalarType.Float32, "Libtorch", "None")]         // neither: exact
    [InlineData(Precision.Fast, true, "avx512 bf16", ScalarType.Float16, "Libtorch", "None")] // CUDA: float16
    public void The_path_is_chosen_by_precision_device_and_CPU_features(Precision asked, bool cuda, string features, ScalarType dtype,
        string linearsName, string isaName)
    {
        var (linears, isa) = (Enum.Parse<LinearMath>(linearsName), Enum.Parse<InstructionSet>(isaName));
        var cpu = new CpuFeatures(features.Contains("avx2") || features.Contains("avx512"), features.Contains("bf16"),
            features.Contains("avx512"), features.Contains("vnni"), features.Contains("amx"));
        var plan = ComputePlan.Resolve(asked, cuda, cpu);
        Assert.Equal(dtype, plan.DType);
        Assert.Equal(linears, plan.Linears);
        // A path this CPU cannot run falls back to the best it can.
        Assert.Equal(isa == InstructionSet.None || KernelTable.Runs(isa) ? isa : KernelTable.Best, plan.Isa);
        Assert.Equal(asked == Precision.Fast, plan.Description.Contains("fast mode"));
    }

    [Fact]
    public void Tests_and_benchmarks_can_force_the_kernels()
    {
        var cpu = CpuFeatures.Current;
        Assert.Equal(InstructionSet.None, ComputePlan.Resolve(Precision.Float32, false, cpu, InstructionSet.None).Isa);
        Assert.Equal(LinearMath.Libtorch, ComputePlan.Resolve(Precision.Float32, false, cpu, InstructionSet.None).Linears);
        var scalar = ComputePlan.Resolve(Precision.Fast, false, cpu with { Amx = false }, InstructionSet.Scalar);
        Assert.Equal((LinearMath.Int16, InstructionSet.Scalar), (scalar.Linears, scalar.Isa));
    }
}

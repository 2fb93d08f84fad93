using TorchSharp;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Kernels.Linear;
using TransformerEmbeddings.Runtime;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>
/// Packing the linear layers' weights ahead of the first forward pass: the backend lists the kernels of the forward path
/// (a stack, not its parts), packing one ahead leaves its results as they were, and a loaded model's encoder layers end
/// up packed without any pass.
/// </summary>
public sealed class PackingAheadTests
{
    public PackingAheadTests() => NativeRuntime.EnsureLoaded();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_backend_lists_the_kernels_to_pack_once_with_a_stack_instead_of_its_parts(bool fast)
    {
        var math = fast ? LinearMath.Int16 : LinearMath.Float32;
        using var scope = NewDisposeScope();
        var backend = new ComputeBackend(new ComputePlan(ScalarType.Float32, math, InstructionSet.Scalar, "test"));
        var g = new Generator(3);
        var (q, k, v, o) = (randn(8, 16, generator: g), randn(8, 16, generator: g), randn(8, 16, generator: g), randn(16, 8, generator: g));
        var bias = randn(8, generator: g);
        _ = new[] { backend.Linear(q, bias), backend.Linear(k, bias), backend.Linear(v, bias) }; // as a module makes its own
        var stack = backend.Linear([q, k, v], [bias, bias, bias]);
        var output = backend.Linear(o, null);

        var listed = backend.TakePackedLinears();
        Assert.Equal(new LinearKernel[] { stack, output }, listed.Cast<LinearKernel>());
        Assert.Empty(backend.TakePackedLinears()); // taken once; later kernels start a new list
        var later = backend.Linear(o, null);
        Assert.Equal(new[] { later }, backend.TakePackedLinears().Cast<LinearKernel>());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Packing_ahead_gives_the_same_outputs_as_packing_on_the_first_call(bool fast)
    {
        var math = fast ? LinearMath.Int16 : LinearMath.Float32;
        using var scope = NewDisposeScope();
        var g = new Generator(5);
        var (w, b, x) = (randn(40, 24, generator: g), randn(40, generator: g), randn(3, 9, 24, generator: g));
        var plan = new ComputePlan(ScalarType.Float32, math, InstructionSet.Scalar, "test");
        var onFirstCall = (CpuLinear)new ComputeBackend(plan).Linear(w, b);
        var ahead = (CpuLinear)new ComputeBackend(plan).Linear(w, b);
        Assert.False(ahead.IsPacked);
        ahead.Prepare(threads: 1);
        Assert.True(ahead.IsPacked);
        Assert.False(onFirstCall.IsPacked);
        Assert.Equal(onFirstCall.Forward(x).data<float>().ToArray(), ahead.Forward(x).data<float>().ToArray());
        Assert.True(onFirstCall.IsPacked);
    }

    [Fact]
    public async Task A_loaded_model_packs_its_encoder_layers_without_a_forward_pass()
    {
        using var model = TransformerModel.Load(SharedData.Model("all-MiniLM-L6-v2"), new ModelOptions { Precision = Precision.Fast });
        var kernels = EncoderKernels(model);
        Assert.NotEmpty(kernels);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!kernels.All(k => k.IsPacked) && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.All(kernels, k => Assert.True(k.IsPacked));
    }

    [Fact]
    public void Disposing_a_model_right_after_loading_it_stops_the_packing()
    {
        // Dispose waits for the layer in hand, then the rest is skipped; nothing throws and nothing is left running.
        for (var i = 0; i < 3; i++)
        {
            var model = TransformerModel.Load(SharedData.Model("all-MiniLM-L6-v2"));
            model.Dispose();
            Assert.Throws<ObjectDisposedException>(() => model.Encode(["after dispose"]));
        }
    }

    /// <summary>The CPU linear kernels of the encoder's forward path: every Dense's but query, key and value (one stacked kernel runs those).</summary>
    private static List<CpuLinear> EncoderKernels(TransformerModel model)
    {
        var found = new List<CpuLinear>();
        foreach (var (name, module) in model.Module.named_modules())
            if (module is TransformerEmbeddings.Modeling.Dense dense && dense.Kernel is CpuLinear cpu
                && !name.EndsWith(".query", StringComparison.Ordinal) && !name.EndsWith(".key", StringComparison.Ordinal) && !name.EndsWith(".value", StringComparison.Ordinal))
                found.Add(cpu);
        return found;
    }
}

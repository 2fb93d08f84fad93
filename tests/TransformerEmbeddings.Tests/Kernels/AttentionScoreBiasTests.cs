using TorchSharp;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Kernels.Attention;
using TransformerEmbeddings.Runtime;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>
/// The attention kernels' additive per-head score bias (MPNet's relative position bias) against HF's eager formula,
/// <c>softmax(q·kᵀ / √d + bias + mask) · v</c>: one (heads, S, S) block for every row or one per row, with padding,
/// probabilities and a head mask, on every instruction set and in libtorch (SDPA and eager).
/// </summary>
public sealed class AttentionScoreBiasTests
{
    public AttentionScoreBiasTests() => NativeRuntime.EnsureLoaded();

    private static (Tensor Context, Tensor Probabilities) Eager(Tensor projected, Tensor? mask, Tensor bias, int heads, int headDim, Tensor? headMask = null)
    {
        var (b, s) = (projected.shape[0], projected.shape[1]);
        var qkv = projected.view(b, s, 3, heads, headDim).permute(2, 0, 3, 1, 4);
        var scores = qkv[0].matmul(qkv[1].transpose(-1, -2)) / Math.Sqrt(headDim) + bias;
        if (mask is not null) scores = scores + mask;
        var probs = scores.softmax(-1);
        if (headMask is not null) probs = probs * headMask.view(1, heads, 1, 1);
        return (probs.matmul(qkv[2]).transpose(1, 2).reshape(b, s, heads * headDim), probs);
    }

    private static Tensor PaddingMask(int batch, int length)
    {
        var keep = zeros(batch, length);
        for (int r = 0; r < batch; r++) keep[r, ..(int)Math.Max(1, length - r * 3)] = tensor(1f);
        return ((1 - keep) * float.MinValue).view(batch, 1, 1, length);
    }

    public static TheoryData<string, int, int, int, int, bool> Shapes()
    {
        var data = new TheoryData<string, int, int, int, int, bool>();
        foreach (var isa in KernelTables.Runnable())
            foreach (var (b, s, h, d) in new[] { (1, 1, 2, 8), (3, 23, 3, 12), (2, 37, 4, 16), (2, 130, 12, 32) })
                foreach (var perRow in new[] { false, true })
                    data.Add(isa, b, s, h, d, perRow);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void The_CPU_kernel_adds_the_bias_as_eager_attention(string isaName, int batch, int length, int heads, int headDim, bool perRow)
    {
        var isa = KernelTables.Parse(isaName);
        using var scope = NewDisposeScope();
        var projected = randn(batch, length, 3 * heads * headDim) * 2;
        var bias = perRow ? randn(batch, heads, length, length) * 3 : randn(heads, length, length) * 3;
        var kernel = new CpuAttention(heads, headDim, KernelTable.For(isa));
        foreach (var m in new[] { null, PaddingMask(batch, length) })
        {
            var (expected, expectedProbabilities) = Eager(projected, m, bias, heads, headDim);
            var probe = new AttentionProbe(wantsProbabilities: true, null);
            var actual = kernel.Forward(projected, m, bias, probe);
            var diff = (expected - actual).abs().max().item<float>();
            Assert.True(diff < 1e-5f, $"{isa} {batch}×{length}×{heads}×{headDim} perRow={perRow} mask={m is not null}: max diff {diff}");
            Assert.True((expectedProbabilities - probe.Probabilities!).abs().max().item<float>() < 1e-6f);
            // Without the probe the same numbers come out (the plain path).
            Assert.Equal(actual.data<float>().ToArray(), kernel.Forward(projected, m, bias, null).data<float>().ToArray());
        }
    }

    [Theory]
    [MemberData(nameof(KernelTables.Runnable), MemberType = typeof(KernelTables))]
    public void Bias_head_mask_and_probabilities_agree_between_the_CPU_kernel_and_libtorch(string isaName)
    {
        var isa = KernelTables.Parse(isaName);
        using var scope = NewDisposeScope();
        int batch = 3, length = 19, heads = 4, headDim = 8;
        var projected = randn(batch, length, 3 * heads * headDim);
        var mask = PaddingMask(batch, length);
        var bias = randn(heads, length, length);
        var headMask = tensor(new[] { 1f, 0f, 0.5f, 2f });
        var (expected, expectedProbabilities) = Eager(projected, mask, bias, heads, headDim, headMask);

        var cpuProbe = new AttentionProbe(wantsProbabilities: true, headMask);
        var cpu = new CpuAttention(heads, headDim, KernelTable.For(isa)).Forward(projected, mask, bias, cpuProbe);
        Assert.True((expected - cpu).abs().max().item<float>() < 1e-5f);
        Assert.True((expectedProbabilities - cpuProbe.Probabilities!).abs().max().item<float>() < 1e-6f);

        var torchProbe = new AttentionProbe(wantsProbabilities: true, headMask);
        var eager = new TorchAttention(heads, headDim).Forward(projected, mask, bias, torchProbe);
        Assert.True((expected - eager).abs().max().item<float>() < 1e-5f);
        Assert.True((expectedProbabilities - torchProbe.Probabilities!).abs().max().item<float>() < 1e-6f);

        // SDPA (nothing probed) takes the bias and the mask as one float mask: the same context at real query rows.
        var (plainExpected, _) = Eager(projected, mask, bias, heads, headDim);
        var sdpa = new TorchAttention(heads, headDim).Forward(projected, mask, bias, null);
        var realRows = (mask.view(batch, length) == 0).unsqueeze(-1).expand_as(sdpa);
        Assert.True((plainExpected - sdpa).abs().masked_select(realRows).max().item<float>() < 1e-5f);
    }

    [Fact]
    public void A_bias_of_the_wrong_shape_is_refused_naming_both_shapes()
    {
        using var scope = NewDisposeScope();
        var projected = randn(2, 5, 3 * 2 * 8);
        foreach (AttentionKernel kernel in new AttentionKernel[] { new CpuAttention(2, 8, KernelTable.For(InstructionSet.Scalar)), new TorchAttention(2, 8) })
        {
            var e = Assert.Throws<ArgumentException>(() => kernel.Forward(projected, null, randn(3, 5, 5), null));
            Assert.Contains("(2, 5, 5)", e.Message);
            Assert.Contains("(3, 5, 5)", e.Message);
        }
    }

    [Fact]
    public void Float64_inputs_with_a_bias_go_to_libtorch()
    {
        using var scope = NewDisposeScope();
        var projected = randn(2, 6, 3 * 2 * 8, dtype: ScalarType.Float64);
        var bias = randn(2, 6, 6, dtype: ScalarType.Float64);
        var actual = new CpuAttention(2, 8, KernelTable.For(InstructionSet.Scalar)).Forward(projected, null, bias, null);
        Assert.Equal(ScalarType.Float64, actual.dtype);
        Assert.True((Eager(projected, null, bias, 2, 8).Context - actual).abs().max().item<double>() < 1e-9);
    }
}

using TorchSharp;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Runtime;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>BERT's embedding sum and LayerNorm in one pass against libtorch's lookups, additions and <c>layer_norm</c>.</summary>
public sealed class EmbeddingLayerNormTests
{
    public EmbeddingLayerNormTests() => NativeRuntime.EnsureLoaded();

    public static TheoryData<string, int, int, int> Shapes()
    {
        var data = new TheoryData<string, int, int, int>();
        foreach (var isa in KernelTables.Runnable())
            foreach (var (b, s, h) in new[] { (1, 16, 384), (3, 23, 128), (32, 40, 384), (2, 7, 8), (2, 5, 12), (2, 0, 16) })
                data.Add(isa, b, s, h);
        return data;
    }

    private static (Tensor X, Tensor Types, Tensor TypeIds, Tensor Positions, Tensor PositionIds, Tensor Weight, Tensor Bias) Inputs(int b, int s, int h, int seed)
    {
        var g = new Generator((ulong)seed);
        var x = randn(b, s, h, generator: g) * 3 + 1;
        return (x, randn(2, h, generator: g), randint(0, 2, [b, s], generator: g), randn(64, h, generator: g) * 0.5,
                randint(0, 64, [b, s], generator: g), randn(h, generator: g), randn(h, generator: g));
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Matches_libtorch_and_leaves_the_word_rows_alone(string isaName, int batch, int length, int hidden)
    {
        var isa = KernelTables.Parse(isaName);
        using var scope = NewDisposeScope();
        var (x, types, typeIds, positions, positionIds, weight, bias) = Inputs(batch, length, hidden, batch * 100 + length);
        var words = x.clone();
        var sum = x.add(types.index_select(0, typeIds.reshape(-1)).view(x.shape)).add_(positions.index_select(0, positionIds.reshape(-1)).view(x.shape));
        var expected = nn.functional.layer_norm(sum, [hidden], weight, bias, 1e-12);

        var actual = EmbeddingLayerNorm.TryApply(x, types, typeIds, positions, positionIds, weight, bias, 1e-12, isa);

        Assert.NotNull(actual);
        Assert.Equal(x.shape, actual!.shape);
        Assert.True(words.eq(x).all().item<bool>(), "the word rows were overwritten");
        if (expected.NumberOfElements == 0) return;
        var diff = (expected - actual).abs().max().item<float>();
        var scale = expected.abs().max().item<float>();
        Assert.True(diff < 2e-6f * scale, $"{isa} {batch}×{length}×{hidden}: max diff {diff} (largest {scale})");
    }

    [Fact]
    public void Takes_position_ids_expanded_over_the_batch_as_BERT_makes_them()
    {
        using var scope = NewDisposeScope();
        var (x, types, typeIds, positions, _, weight, bias) = Inputs(4, 9, 32, 2);
        var positionIds = arange(9, dtype: ScalarType.Int64).unsqueeze(0).expand(4, 9);
        Assert.False(positionIds.is_contiguous());
        var sum = x.add(types.index_select(0, typeIds.reshape(-1)).view(x.shape)).add_(positions.index_select(0, positionIds.reshape(-1)).view(x.shape));
        var expected = nn.functional.layer_norm(sum, [32], weight, bias, 1e-12);
        var actual = EmbeddingLayerNorm.TryApply(x, types, typeIds, positions, positionIds, weight, bias, 1e-12, InstructionSet.Scalar);
        Assert.NotNull(actual);
        Assert.True((expected - actual!).abs().max().item<float>() < 2e-6f * expected.abs().max().item<float>());
    }

    [Fact]
    public void Leaves_to_libtorch_what_it_cannot_compute()
    {
        using var scope = NewDisposeScope();
        var (x, types, typeIds, positions, positionIds, weight, bias) = Inputs(2, 6, 16, 1);
        var isa = InstructionSet.Scalar;
        Assert.NotNull(EmbeddingLayerNorm.TryApply(x, types, typeIds, positions, positionIds, weight, bias, 1e-12, isa));
        Assert.Null(EmbeddingLayerNorm.TryApply(x, types, typeIds, positions, positionIds, weight, bias, 1e-12, InstructionSet.None));
        // An id past a table: libtorch's lookup reports it, so the kernel steps aside.
        var beyond = positionIds.clone();
        beyond[1, 3] = tensor(64L);
        Assert.Null(EmbeddingLayerNorm.TryApply(x, types, typeIds, positions, beyond, weight, bias, 1e-12, isa));
        var negative = typeIds.clone();
        negative[0, 0] = tensor(-1L);
        Assert.Null(EmbeddingLayerNorm.TryApply(x, types, negative, positions, positionIds, weight, bias, 1e-12, isa));
        Assert.Null(EmbeddingLayerNorm.TryApply(x.transpose(0, 1).contiguous().transpose(0, 1), types, typeIds, positions, positionIds, weight, bias, 1e-12, isa)); // not contiguous
        Assert.Null(EmbeddingLayerNorm.TryApply(x.to(ScalarType.Float64), types, typeIds, positions, positionIds, weight, bias, 1e-12, isa));
        Assert.Null(EmbeddingLayerNorm.TryApply(x, types, typeIds.to(ScalarType.Int32), positions, positionIds, weight, bias, 1e-12, isa));
        Assert.Null(EmbeddingLayerNorm.TryApply(x, types, typeIds, positions, positionIds[.., ..5], weight, bias, 1e-12, isa)); // ids of another shape
    }
}

using TorchSharp;
using TransformerEmbeddings.Runtime;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Pooling;

/// <summary>
/// The one L2 normalisation of the library, <c>v / max(‖v‖, 1e-12)</c> as <c>torch.nn.functional.normalize</c> and
/// sentence-transformers' <c>Normalize</c> compute it: on tensors (pipelines, search) and on managed rows
/// (<see cref="Embeddings.Normalize"/>, sliding windows).
/// </summary>
internal static class L2Normalization
{
    /// <summary>The smallest norm divided by (<c>normalize</c>'s <c>eps</c>).</summary>
    public const double Epsilon = 1e-12;

    private static readonly Scalar SmallestNorm = Scalars.Constant(Epsilon);

    /// <summary>Every row of a (B, D) tensor divided by its norm; call inside a dispose scope.</summary>
    public static Tensor Rows(Tensor x) => x / x.norm(1, keepdim: true, p: 2).clamp_min(SmallestNorm);

    /// <summary>max(‖v‖, 1e-12) of one row, in double precision.</summary>
    public static double Norm(ReadOnlySpan<float> v)
    {
        double sum = 0;
        foreach (var x in v) sum += (double)x * x;
        return Math.Max(Math.Sqrt(sum), Epsilon);
    }

    /// <summary>dst = src / max(‖src‖, 1e-12); src and dst may be the same span.</summary>
    public static void Normalize(ReadOnlySpan<float> src, Span<float> dst)
    {
        var norm = Norm(src);
        for (var i = 0; i < src.Length; i++) dst[i] = (float)(src[i] / norm);
    }
}

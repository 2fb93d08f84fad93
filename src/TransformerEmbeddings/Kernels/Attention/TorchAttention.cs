using TorchSharp;
using TransformerEmbeddings.Runtime;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels.Attention;

/// <summary>The attention core in libtorch: fused SDPA when nothing is probed, HF's eager math when probabilities are wanted or altered.</summary>
internal sealed class TorchAttention(int heads, int headDim) : AttentionKernel
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor qkv, Tensor? additiveMask, Tensor? scoreBias, AttentionProbe? probe)
    {
        var (b, s) = (qkv.shape[0], qkv.shape[1]);
        if (scoreBias is not null) PerRow(scoreBias, b, heads, s);
        using var scope = NewDisposeScope();
        var split = qkv.view(b, s, 3, heads, headDim).permute(2, 0, 3, 1, 4);    // (3, B, nh, S, hd)
        var (q, k, v) = (split[0], split[1], split[2]);
        Tensor context;                                                           // (B, nh, S, hd)
        if (probe is null || (!probe.WantsProbabilities && probe.HeadMask is null))
        {
            // SDPA adds one float mask to the scaled scores: the bias and the padding mask summed (identical on real keys).
            var bias = scoreBias is null ? additiveMask
                : additiveMask is null ? scoreBias.to(q.dtype) : scoreBias.to(q.dtype).add(additiveMask, Scalars.One);
            context = nn.functional.scaled_dot_product_attention(q, k, v, bias);
        }
        else
        {
            using var scale = Math.Sqrt(headDim).ToScalar();
            var scores = q.matmul(k.transpose(-1, -2)).div_(scale);                // (B, nh, S, S)
            if (scoreBias is not null) scores.add_(scoreBias.to(scores.dtype), Scalars.One);
            if (additiveMask is not null) scores.add_(additiveMask, Scalars.One);
            var probs = scores.softmax(-1);
            if (probe.HeadMask is { } mask) probs = probs * mask.view(1, heads, 1, 1);
            if (probe.WantsProbabilities) probe.Probabilities = probs.MoveToOuterDisposeScope();
            context = probs.matmul(v);
        }
        return context.transpose(1, 2).reshape(b, s, heads * headDim).MoveToOuterDisposeScope();
    }
}

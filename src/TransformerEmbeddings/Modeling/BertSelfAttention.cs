using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Kernels;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>HF <c>BertSelfAttention</c>: per-head scaled dot-product attention with the additive padding mask.</summary>
internal sealed class BertSelfAttention : nn.Module
{
    private readonly Dense query;
    private readonly Dense key;
    private readonly Dense value;
    private readonly int heads;
    private readonly int headDim;
    // One (3H, H) weight and (3H) bias for a single QKV matmul; query/key/value's parameters are views into it, so
    // the checkpoint's names and the module tree stay HF's and no memory is duplicated. Held outside a Tensor-typed
    // field so RegisterComponents does not add it as a buffer.
    private readonly Fused fused;

    /// <summary>Up to this length the uncaptured path uses matmul-softmax-matmul instead of libtorch's SDPA kernel.</summary>
    private const int EagerMaxLength = 16;

    public BertSelfAttention(WeightPath w, EncoderConfig config) : base("self")
    {
        heads = config.NumAttentionHeads;
        headDim = config.HeadDim;
        query = new Dense(w["query"], config.HiddenSize, config.HiddenSize);
        key = new Dense(w["key"], config.HiddenSize, config.HiddenSize);
        value = new Dense(w["value"], config.HiddenSize, config.HiddenSize);
        RegisterComponents();
        fused = Fused.Of(query, key, value);
    }

    /// <summary>The concatenated [query; key; value] weight and bias (views of it are the three parameters).</summary>
    private sealed class Fused
    {
        public required Tensor Weight { get; init; }
        public required Tensor Bias { get; init; }
        public readonly KernelCache Kernels = new();

        public static Fused Of(Dense q, Dense k, Dense v)
        {
            using var _ = no_grad();
            var weight = cat([q.Weight, k.Weight, v.Weight], 0).DetachFromDisposeScope();
            var bias = cat([q.Bias, k.Bias, v.Bias], 0).DetachFromDisposeScope();
            var h = q.Weight.shape[0];
            var i = 0;
            foreach (var d in new[] { q, k, v })
            {
                using var wv = weight.narrow(0, i * h, h);
                using var bv = bias.narrow(0, i * h, h);
                d.Weight.set_(wv);
                d.Bias.set_(bv);
                i++;
            }
            return new Fused { Weight = weight, Bias = bias };
        }
    }

    public Dense Query => query;

    public Dense Key => key;

    public Dense Value => value;

    /// <param name="x">(B, S, H).</param>
    /// <param name="additiveMask">(B, 1, 1, S): 0 on real keys, the dtype's minimum on padding; null when nothing is padded.</param>
    /// <param name="layer">This block's index, for the trace.</param>
    /// <param name="trace">Hook points, or null on the fast path.</param>
    /// <returns>The context, merged back to (B, S, H).</returns>
    public Tensor forward(Tensor x, Tensor? additiveMask, int layer, ForwardTrace? trace)
    {
        var (b, s) = (x.shape[0], x.shape[1]);
        // One matmul for all three projections: (B, S, 3H) viewed as (3, B, nh, S, hd).
        var projected = PackedLinear.Linear(x, fused.Weight, fused.Bias, fused.Kernels);        // (B, S, 3H)
        if (trace is null && ShortAttention.Accepts(projected, additiveMask, headDim))
        {
            // CPU fp32 sentences: one kernel from the projection straight to merged heads (same formula as below).
            var attended = ShortAttention.Forward(projected, additiveMask, heads, headDim);   // (B, S, H)
            projected.Dispose();
            return attended;
        }
        var split = projected.view(b, s, 3, heads, headDim);
        var qkv = split.permute(2, 0, 3, 1, 4);
        var q = qkv[0];                                                           // (B, nh, S, hd)
        var k = qkv[1];
        var v = qkv[2];

        Tensor context;                                                           // (B, nh, S, hd)
        if (trace is null && s <= EagerMaxLength)
        {
            // Very short sequences: three plain ops beat libtorch's CPU SDPA kernel, whose blocking and per-head setup
            // cost more than the arithmetic here (measured ~2× at 32×12 heads of 16×16). Same maths as HF's eager path.
            using var scores = q.matmul(k.transpose(-1, -2));                     // (B, nh, S, S)
            scores.div_(Math.Sqrt(headDim));
            if (additiveMask is not null) scores.add_(additiveMask);
            using var probs = scores.softmax(-1);
            context = probs.matmul(v);
        }
        else if (trace is null || !trace.NeedsEagerAttention(layer))
        {
            context = nn.functional.scaled_dot_product_attention(q, k, v, additiveMask);
        }
        else
        {
            var scores = q.matmul(k.transpose(-1, -2)) / Math.Sqrt(headDim);      // (B, nh, S, S)
            var probs = (additiveMask is null ? scores : scores + additiveMask).softmax(-1);
            if (trace.HeadMask is { } mask) probs = probs * mask[layer].view(1, heads, 1, 1);
            if (trace.Wants(ActivationKind.Attentions, layer)) trace.Record($"attentions.{layer}", probs);
            context = probs.matmul(v);
            foreach (var iv in trace.InterventionsFor(layer))
            {
                context = context.clone();
                if (iv.Replacement is null) context[.., iv.Head].zero_();
                else context[.., iv.Head] = tensor(iv.Replacement, device: context.device, dtype: context.dtype).view(1, 1, headDim);
            }
        }

        if (trace is not null)
        {
            if (trace.Wants(ActivationKind.Queries, layer)) trace.Record($"query.{layer}", q);
            if (trace.Wants(ActivationKind.Keys, layer)) trace.Record($"key.{layer}", k);
            if (trace.Wants(ActivationKind.Values, layer)) trace.Record($"value.{layer}", v);
            if (trace.Wants(ActivationKind.Contexts, layer)) trace.Record($"context.{layer}", context);
        }

        var transposed = context.transpose(1, 2);
        var merged = transposed.reshape(b, s, heads * headDim);                   // (B, S, H)
        if (trace is null)
        {
            // Nothing else holds these: free them now (every handle on the storage) so the allocator reuses hot
            // memory within the forward pass instead of holding every intermediate until the call's scope ends.
            foreach (var t in new[] { transposed, context, q, k, v, qkv, split, projected }) t.Dispose();
        }
        return merged;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            fused.Weight.Dispose();
            fused.Bias.Dispose();
        }
        base.Dispose(disposing);
    }
}

using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Inspection;
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

    public BertSelfAttention(WeightPath w, EncoderConfig config) : base("self")
    {
        heads = config.NumAttentionHeads;
        headDim = config.HeadDim;
        query = new Dense(w["query"], config.HiddenSize, config.HiddenSize);
        key = new Dense(w["key"], config.HiddenSize, config.HiddenSize);
        value = new Dense(w["value"], config.HiddenSize, config.HiddenSize);
        RegisterComponents();
    }

    public Dense Query => query;

    public Dense Key => key;

    public Dense Value => value;

    /// <param name="x">(B, S, H).</param>
    /// <param name="additiveMask">(B, 1, 1, S): 0 on real keys, the dtype's minimum on padding.</param>
    /// <param name="layer">This block's index, for the trace.</param>
    /// <param name="trace">Hook points, or null on the fast path.</param>
    /// <returns>The context, merged back to (B, S, H).</returns>
    public Tensor forward(Tensor x, Tensor additiveMask, int layer, ForwardTrace? trace)
    {
        var (b, s) = (x.shape[0], x.shape[1]);
        var q = SplitHeads(query.call(x), b, s);                                  // (B, nh, S, hd)
        var k = SplitHeads(key.call(x), b, s);
        var v = SplitHeads(value.call(x), b, s);

        Tensor context;                                                           // (B, nh, S, hd)
        if (trace is null || !trace.NeedsEagerAttention(layer))
        {
            context = nn.functional.scaled_dot_product_attention(q, k, v, additiveMask);
        }
        else
        {
            var scores = q.matmul(k.transpose(-1, -2)) / Math.Sqrt(headDim);      // (B, nh, S, S)
            var probs = (scores + additiveMask).softmax(-1);
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

        return context.transpose(1, 2).reshape(b, s, heads * headDim);          // (B, S, H)
    }

    private Tensor SplitHeads(Tensor t, long b, long s) => t.view(b, s, heads, headDim).transpose(1, 2);
}

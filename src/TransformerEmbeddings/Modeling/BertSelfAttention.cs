using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Kernels.Attention;
using TransformerEmbeddings.Kernels.Linear;
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
    // One (3H, H) weight and (3H) bias for a single QKV product; query/key/value's parameters are views into it, so
    // the checkpoint's names and the module tree stay HF's and no memory is duplicated. Held outside Tensor-typed
    // fields so RegisterComponents does not add them as buffers.
    private readonly (Tensor Weight, Tensor Bias) fused;
    private readonly LinearKernel projection;
    private readonly AttentionKernel attention;

    public BertSelfAttention(WeightPath w, EncoderConfig config) : base("self")
    {
        heads = config.NumAttentionHeads;
        headDim = config.HeadDim;
        query = new Dense(w["query"], config.HiddenSize, config.HiddenSize);
        key = new Dense(w["key"], config.HiddenSize, config.HiddenSize);
        value = new Dense(w["value"], config.HiddenSize, config.HiddenSize);
        RegisterComponents();
        fused = Fuse(query, key, value);
        projection = w.Backend.Linear(fused.Weight, fused.Bias);
        attention = w.Backend.Attention(heads, headDim);
    }

    public Dense Query => query;

    public Dense Key => key;

    public Dense Value => value;

    /// <param name="x">(B, S, H).</param>
    /// <param name="additiveMask">(B, 1, 1, S): 0 on real keys, the dtype's minimum on padding; null when nothing is padded.</param>
    /// <param name="layer">This block's index, for the trace.</param>
    /// <param name="trace">Hook points, or null.</param>
    /// <returns>The context, heads merged, (B, S, H).</returns>
    public Tensor forward(Tensor x, Tensor? additiveMask, int layer, ForwardTrace? trace)
    {
        var qkv = projection.Forward(x);                                          // (B, S, 3H): query, key, value
        var probe = trace?.Probe(layer);
        var context = attention.Forward(qkv, additiveMask, probe);                // (B, S, H)
        if (trace is not null)
        {
            var (b, s) = (x.shape[0], x.shape[1]);
            var split = qkv.view(b, s, 3, heads, headDim).permute(2, 0, 3, 1, 4); // (3, B, nh, S, hd)
            trace.Record(HookPoint.Queries, layer, split[0]);
            trace.Record(HookPoint.Keys, layer, split[1]);
            trace.Record(HookPoint.Values, layer, split[2]);
            if (probe?.Probabilities is { } probabilities)
                trace.Record(HookPoint.Attentions, layer, probabilities);
            foreach (var iv in trace.InterventionsFor(layer))
            {
                using var slice = context.narrow(2, iv.Head * headDim, headDim);   // (B, S, hd)
                if (iv.Replacement is null) slice.zero_();
                else
                {
                    using var replacement = tensor(iv.Replacement, device: context.device, dtype: context.dtype);
                    slice.copy_(replacement.expand_as(slice));
                }
            }
            trace.Record(HookPoint.Contexts, layer, context.view(b, s, heads, headDim).permute(0, 2, 1, 3));
        }
        qkv.Dispose(); // recorded q/k/v are views: they keep the storage
        return context;
    }

    private static (Tensor Weight, Tensor Bias) Fuse(Dense q, Dense k, Dense v)
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
        return (weight, bias);
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

using TorchSharp;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Kernels.Attention;
using TransformerEmbeddings.Kernels.Linear;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// The multi-head part every family's self-attention shares: one product for query, key and value, the bound
/// <see cref="AttentionKernel"/>, and the hook points, so <c>query/key/value/attentions/context</c> and head
/// interventions mean the same in BERT's <c>query/key/value</c>, DistilBERT's <c>q_lin/k_lin/v_lin</c> and MPNet's
/// <c>q/k/v</c>. Not a module: the three <see cref="Dense"/> layers stay their owner's children under HF's names, and
/// their weights are never duplicated: the library's kernels pack the (3H, H) product from the three on first use, and
/// under libtorch the three become views into one stacked weight and bias.
/// </summary>
internal sealed class AttentionCore : IDisposable
{
    private readonly int heads;
    private readonly int headDim;
    private readonly LinearKernel projection;
    private readonly AttentionKernel attention;

    public AttentionCore(WeightPath w, Dense query, Dense key, Dense value, int heads, int headDim)
    {
        this.heads = heads;
        this.headDim = headDim;
        projection = w.Backend.QueryKeyValue(query.Weight, key.Weight, value.Weight, query.Bias, key.Bias, value.Bias); // (3H, H): one product
        attention = w.Backend.Attention(heads, headDim);
    }

    /// <summary>The merged context of every head, <c>softmax(q·kᵀ / √d + bias + mask) · v</c>, recording what the trace asks for.</summary>
    /// <param name="x">(B, S, H).</param>
    /// <param name="additiveMask">(B, 1, 1, S): 0 on real keys, the dtype's minimum on padding; null when nothing is padded.</param>
    /// <param name="scoreBias">(heads, S, S) added to each head's scaled scores (MPNet), or null.</param>
    /// <param name="layer">The block's index, for the trace.</param>
    /// <param name="trace">Hook points, or null.</param>
    /// <returns>The context, heads merged, (B, S, H): the input of the block's output projection.</returns>
    public Tensor Forward(Tensor x, Tensor? additiveMask, Tensor? scoreBias, int layer, ForwardTrace? trace)
    {
        var probe = trace?.Probe(layer);
        // (B, S, H) from qkv = projection(x), (B, S, 3H): query, key, value — kept only when the trace records them
        var context = attention.Forward(x, projection, additiveMask, scoreBias, probe, keepProjections: trace is not null, out var qkv);
        if (trace is not null && qkv is not null)
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
        qkv?.Dispose(); // recorded q/k/v are views: they keep the storage
        return context;
    }

    public void Dispose() => projection.Dispose();
}

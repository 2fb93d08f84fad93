using TorchSharp;
using TransformerEmbeddings.Configuration;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>HF <c>BertSelfAttention</c> (RoBERTa's and XLM-R's are copies): per-head scaled dot-product attention with the additive padding mask.</summary>
internal sealed class BertSelfAttention : nn.Module
{
    private readonly Dense query;
    private readonly Dense key;
    private readonly Dense value;
    private readonly AttentionCore core;

    public BertSelfAttention(WeightPath w, EncoderConfig config) : base("self")
    {
        query = new Dense(w["query"], config.HiddenSize, config.HiddenSize);
        key = new Dense(w["key"], config.HiddenSize, config.HiddenSize);
        value = new Dense(w["value"], config.HiddenSize, config.HiddenSize);
        RegisterComponents();
        core = new AttentionCore(w, query, key, value, config.NumAttentionHeads, config.HeadDim);
    }

    public Dense Query => query;

    public Dense Key => key;

    public Dense Value => value;

    /// <param name="x">(B, S, H).</param>
    /// <param name="additiveMask">(B, 1, 1, S): 0 on real keys, the dtype's minimum on padding; null when nothing is padded.</param>
    /// <param name="layer">This block's index, for the trace.</param>
    /// <param name="trace">Hook points, or null.</param>
    /// <returns>The context, heads merged, (B, S, H).</returns>
    public Tensor forward(Tensor x, Tensor? additiveMask, int layer, ForwardTrace? trace) =>
        core.Forward(x, additiveMask, null, layer, trace);

    protected override void Dispose(bool disposing)
    {
        if (disposing) core.Dispose();
        base.Dispose(disposing);
    }
}

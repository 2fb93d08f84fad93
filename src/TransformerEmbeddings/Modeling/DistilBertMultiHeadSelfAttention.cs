using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Kernels;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// HF DistilBERT's <c>MultiHeadSelfAttention</c> (<c>attention</c>): q_lin, k_lin, v_lin, per-head attention, then
/// out_lin. HF scales q by 1/√d before the product and fills padded keys with the dtype's minimum; the shared core
/// divides the scores and adds that minimum, which gives the same probabilities (and the same q, k, v to record).
/// </summary>
internal sealed class DistilBertMultiHeadSelfAttention : nn.Module
{
    private readonly Dense q_lin;
    private readonly Dense k_lin;
    private readonly Dense v_lin;
    private readonly Dense out_lin;
    private readonly AttentionCore core;

    public DistilBertMultiHeadSelfAttention(WeightPath w, EncoderConfig config) : base("attention")
    {
        q_lin = new Dense(w["q_lin"], config.HiddenSize, config.HiddenSize);
        k_lin = new Dense(w["k_lin"], config.HiddenSize, config.HiddenSize);
        v_lin = new Dense(w["v_lin"], config.HiddenSize, config.HiddenSize);
        out_lin = new Dense(w["out_lin"], config.HiddenSize, config.HiddenSize, role: LinearRole.AttentionOutput);
        RegisterComponents();
        core = new AttentionCore(w, q_lin, k_lin, v_lin, config.NumAttentionHeads, config.HeadDim);
    }

    public AttentionProjections Projections => new(q_lin, k_lin, v_lin, out_lin);

    /// <param name="x">(B, S, H).</param>
    /// <param name="additiveMask">(B, 1, 1, S), or null when nothing is padded.</param>
    /// <param name="layer">This block's index, for the trace.</param>
    /// <param name="trace">Hook points, or null.</param>
    /// <returns>out_lin of the merged context, (B, S, H): a fresh buffer.</returns>
    public Tensor forward(Tensor x, Tensor? additiveMask, int layer, ForwardTrace? trace)
    {
        var context = core.Forward(x, additiveMask, null, layer, trace);         // (B, S, H)
        var y = out_lin.forward(context);                                         // (B, S, H)
        trace.Release(context);
        return y;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) core.Dispose();
        base.Dispose(disposing);
    }
}

using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Kernels;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// HF <c>MPNetSelfAttention</c> (<c>attention.attn</c>): q, k, v, per-head attention with the encoder's relative
/// position bias added to the scaled scores before the padding mask, then o (the output projection lives here in MPNet).
/// </summary>
internal sealed class MPNetSelfAttention : nn.Module
{
    private readonly Dense q;
    private readonly Dense k;
    private readonly Dense v;
    private readonly Dense o;
    private readonly AttentionCore core;

    public MPNetSelfAttention(WeightPath w, EncoderConfig config) : base("attn")
    {
        q = new Dense(w["q"], config.HiddenSize, config.HiddenSize);
        k = new Dense(w["k"], config.HiddenSize, config.HiddenSize);
        v = new Dense(w["v"], config.HiddenSize, config.HiddenSize);
        o = new Dense(w["o"], config.HiddenSize, config.HiddenSize, role: LinearRole.AttentionOutput);
        RegisterComponents();
        core = new AttentionCore(w, q, k, v, config.NumAttentionHeads, config.HeadDim);
    }

    public AttentionProjections Projections => new(q, k, v, o);

    /// <param name="x">(B, S, H).</param>
    /// <param name="additiveMask">(B, 1, 1, S), or null when nothing is padded.</param>
    /// <param name="positionBias">(heads, S, S) the relative position bias.</param>
    /// <param name="layer">This block's index, for the trace.</param>
    /// <param name="trace">Hook points, or null.</param>
    /// <returns>o of the merged context, (B, S, H): a fresh buffer.</returns>
    public Tensor forward(Tensor x, Tensor? additiveMask, Tensor positionBias, int layer, ForwardTrace? trace)
    {
        var c = core.Forward(x, additiveMask, positionBias, layer, trace);       // (B, S, H)
        var y = o.forward(c);                                                     // (B, S, H)
        trace.Release(c);
        return y;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) core.Dispose();
        base.Dispose(disposing);
    }
}

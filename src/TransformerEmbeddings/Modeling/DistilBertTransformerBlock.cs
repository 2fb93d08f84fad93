using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Inspection;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>HF DistilBERT's <c>TransformerBlock</c> (<c>transformer.layer.N</c>): attention, sa_layer_norm(x + ·), ffn, output_layer_norm(· + ·).</summary>
internal sealed class DistilBertTransformerBlock : nn.Module
{
    private readonly DistilBertMultiHeadSelfAttention attention;
    private readonly LayerNormalization sa_layer_norm;
    private readonly DistilBertFFN ffn;
    private readonly LayerNormalization output_layer_norm;
    private readonly int index;

    public DistilBertTransformerBlock(WeightPath w, EncoderConfig config, int index) : base($"layer.{index}")
    {
        this.index = index;
        attention = new DistilBertMultiHeadSelfAttention(w["attention"], config);
        sa_layer_norm = new LayerNormalization(w["sa_layer_norm"], config.HiddenSize, config.LayerNormEps);
        ffn = new DistilBertFFN(w["ffn"], config);
        output_layer_norm = new LayerNormalization(w["output_layer_norm"], config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    public DistilBertMultiHeadSelfAttention Attention => attention;

    public Tensor forward(Tensor x, Tensor? additiveMask, ForwardTrace? trace)
    {
        var sa = sa_layer_norm.forward(attention.forward(x, additiveMask, index, trace), x);     // (B, S, H)
        trace?.Record(HookPoint.AttentionOutputs, index, sa);
        var y = output_layer_norm.forward(ffn.forward(sa, index, trace), sa);                  // (B, S, H)
        trace.Release(sa);
        return y;
    }
}

using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Inspection;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// HF <c>MPNetLayer</c> (<c>encoder.layer.N</c>): attention, then the feed-forward block. HF's <c>MPNetIntermediate</c>
/// and <c>MPNetOutput</c> are copies of BERT's, so BERT's modules serve under the same names.
/// </summary>
internal sealed class MPNetLayer : nn.Module
{
    private readonly MPNetAttention attention;
    private readonly BertIntermediate intermediate;
    private readonly BertOutput output;
    private readonly int index;

    public MPNetLayer(WeightPath w, EncoderConfig config, int index) : base($"layer.{index}")
    {
        this.index = index;
        attention = new MPNetAttention(w["attention"], config);
        intermediate = new BertIntermediate(w["intermediate"], config);
        output = new BertOutput(w["output"], config);
        RegisterComponents();
    }

    public MPNetAttention Attention => attention;

    public Tensor forward(Tensor x, Tensor? additiveMask, Tensor positionBias, ForwardTrace? trace)
    {
        var attended = attention.forward(x, additiveMask, positionBias, index, trace);  // (B, S, H)
        trace?.Record(HookPoint.AttentionOutputs, index, attended);
        var hidden = intermediate.forward(attended);                                    // (B, S, I)
        trace?.Record(HookPoint.Intermediates, index, hidden);
        var y = output.forward(hidden, attended);                                       // (B, S, H)
        trace.Release(hidden);
        trace.Release(attended);
        return y;
    }
}

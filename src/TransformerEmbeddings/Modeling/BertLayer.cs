using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Inspection;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>HF <c>BertLayer</c>: attention, then the feed-forward block.</summary>
internal sealed class BertLayer : nn.Module
{
    private readonly BertAttention attention;
    private readonly BertIntermediate intermediate;
    private readonly BertOutput output;
    private readonly int index;

    public BertLayer(WeightPath w, EncoderConfig config, int index) : base($"layer.{index}")
    {
        this.index = index;
        attention = new BertAttention(w["attention"], config);
        intermediate = new BertIntermediate(w["intermediate"], config);
        output = new BertOutput(w["output"], config);
        RegisterComponents();
    }

    public BertAttention Attention => attention;

    public Tensor forward(Tensor x, Tensor? additiveMask, ForwardTrace? trace)
    {
        var attended = attention.forward(x, additiveMask, index, trace);          // (B, S, H)
        trace?.Record(HookPoint.AttentionOutputs, index, attended);
        var hidden = intermediate.forward(attended);                              // (B, S, I)
        trace?.Record(HookPoint.Intermediates, index, hidden);
        var y = output.forward(hidden, attended);                                 // (B, S, H)
        trace.Release(hidden);
        trace.Release(attended);
        return y;
    }
}

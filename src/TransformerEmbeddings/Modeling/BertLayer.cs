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
        if (trace is null) return FastForward(x, additiveMask);
        var attended = attention.forward(x, additiveMask, index, trace);          // (B, S, H)
        var hidden = intermediate.call(attended);                                 // (B, S, I)
        if (trace is not null)
        {
            if (trace.Wants(ActivationKind.AttentionOutputs, index)) trace.Record($"attention_output.{index}", attended);
            if (trace.Wants(ActivationKind.Intermediates, index)) trace.Record($"intermediate.{index}", hidden);
        }
        return output.call(hidden, attended);                                     // (B, S, H)
    }

    /// <summary>
    /// The same computation when nothing is captured: residual adds and the activation run in place on fresh
    /// buffers, and every intermediate is released as soon as it is used (same values, fewer allocations).
    /// </summary>
    private Tensor FastForward(Tensor x, Tensor? additiveMask)
    {
        var self = attention.Self.forward(x, additiveMask, index, null);        // (B, S, H)
        var attended = attention.Output.FastForward(self, x);
        self.Dispose();
        var hidden = intermediate.FastForward(attended);                          // (B, S, I)
        var y = output.FastForward(hidden, attended);
        hidden.Dispose();
        attended.Dispose();
        return y;
    }
}

using TorchSharp;
using TorchSharp.Utils;
using TransformerEmbeddings.Configuration;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>HF <c>BertAttention</c>: self-attention followed by its output block.</summary>
internal sealed class BertAttention : nn.Module
{
    [ComponentName(Name = "self")] private readonly BertSelfAttention self;
    private readonly BertSelfOutput output;

    public BertAttention(WeightPath w, EncoderConfig config) : base("attention")
    {
        self = new BertSelfAttention(w["self"], config);
        output = new BertSelfOutput(w["output"], config);
        RegisterComponents();
    }

    public BertSelfAttention Self => self;

    public BertSelfOutput Output => output;

    public Tensor forward(Tensor x, Tensor? additiveMask, int layer, ForwardTrace? trace)
    {
        var context = self.forward(x, additiveMask, layer, trace);               // (B, S, H)
        var y = output.forward(context, x);                                       // (B, S, H)
        trace.Release(context);
        return y;
    }
}

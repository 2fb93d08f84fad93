using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Inspection;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>HF DistilBERT's <c>FFN</c> (<c>ffn</c>): lin1 up to <c>hidden_dim</c>, the activation (config <c>activation</c>), lin2 back.</summary>
internal sealed class DistilBertFFN : nn.Module
{
    private readonly Dense lin1;
    private readonly Dense lin2;
    private readonly HiddenActivation activation;

    public DistilBertFFN(WeightPath w, EncoderConfig config) : base("ffn")
    {
        lin1 = new Dense(w["lin1"], config.HiddenSize, config.IntermediateSize);
        lin2 = new Dense(w["lin2"], config.IntermediateSize, config.HiddenSize);
        activation = config.HiddenAct;
        RegisterComponents();
    }

    /// <param name="x">(B, S, H) the attention block's output.</param>
    /// <param name="layer">This block's index, for the trace.</param>
    /// <param name="trace">Hook points, or null.</param>
    /// <returns>lin2's output, (B, S, H): a fresh buffer.</returns>
    public Tensor forward(Tensor x, int layer, ForwardTrace? trace)
    {
        var hidden = lin1.forward(x, activation);                                 // (B, S, I)
        trace?.Record(HookPoint.Intermediates, layer, hidden);
        var y = lin2.forward(hidden);                                             // (B, S, H)
        trace.Release(hidden);
        return y;
    }
}

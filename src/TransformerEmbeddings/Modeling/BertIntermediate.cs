using TorchSharp;
using TransformerEmbeddings.Configuration;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>HF <c>BertIntermediate</c>: dense up to the feed-forward width, then the activation.</summary>
internal sealed class BertIntermediate : nn.Module<Tensor, Tensor>
{
    private readonly Dense dense;
    private readonly HiddenActivation activation;

    public BertIntermediate(WeightPath w, EncoderConfig config) : base("intermediate")
    {
        dense = new Dense(w["dense"], config.HiddenSize, config.IntermediateSize);
        activation = config.HiddenAct;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => dense.forward(x, activation);  // (B, S, I)
}

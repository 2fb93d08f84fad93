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

    public override Tensor forward(Tensor x) => Activation.Apply(activation, dense.call(x)); // (B, S, I)

    /// <summary><see cref="forward"/> with the activation applied in place on the fresh projection.</summary>
    public Tensor FastForward(Tensor x) =>
        activation == HiddenActivation.Gelu ? dense.ForwardGelu(x) : Activation.ApplyInPlace(activation, dense.call(x));
}

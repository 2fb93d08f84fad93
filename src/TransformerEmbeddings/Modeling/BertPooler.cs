using TorchSharp;
using TransformerEmbeddings.Configuration;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>HF <c>BertPooler</c>: tanh(dense(h[:, 0])).</summary>
internal sealed class BertPooler : nn.Module<Tensor, Tensor>
{
    private readonly Dense dense;

    public BertPooler(WeightPath w, EncoderConfig config) : base("pooler")
    {
        dense = new Dense(w["dense"], config.HiddenSize, config.HiddenSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor lastHiddenState) => dense.call(lastHiddenState[.., 0]).tanh(); // (B, H)
}

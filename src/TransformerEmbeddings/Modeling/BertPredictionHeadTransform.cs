using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using TransformerEmbeddings.Configuration;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>HF <c>BertPredictionHeadTransform</c> (<c>cls.predictions.transform</c>): dense, activation, LayerNorm.</summary>
internal sealed class BertPredictionHeadTransform : nn.Module<Tensor, Tensor>
{
    private readonly Dense dense;
    [ComponentName(Name = "LayerNorm")] private readonly LayerNormalization layerNorm;
    private readonly HiddenActivation activation;

    public BertPredictionHeadTransform(WeightPath w, EncoderConfig config) : base("transform")
    {
        dense = new Dense(w["dense"], config.HiddenSize, config.HiddenSize);
        layerNorm = new LayerNormalization(w["LayerNorm"], config.HiddenSize, config.LayerNormEps);
        activation = config.HiddenAct;
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden) => layerNorm.call(Activation.Apply(activation, dense.call(hidden))); // (B, S, H)
}

using TorchSharp;
using TorchSharp.Utils;
using TransformerEmbeddings.Configuration;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>HF <c>BertOutput</c>: dense back to the hidden size, then LayerNorm of the residual sum.</summary>
internal sealed class BertOutput : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly Dense dense;
    [ComponentName(Name = "LayerNorm")] private readonly LayerNormalization layerNorm;

    public BertOutput(WeightPath w, EncoderConfig config) : base("output")
    {
        dense = new Dense(w["dense"], config.IntermediateSize, config.HiddenSize);
        layerNorm = new LayerNormalization(w["LayerNorm"], config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    /// <param name="intermediate">(B, S, I).</param>
    /// <param name="residual">(B, S, H) the attention block's output.</param>
    public override Tensor forward(Tensor intermediate, Tensor residual) => layerNorm.forward(dense.forward(intermediate), residual);
}

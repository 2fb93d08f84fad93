using TorchSharp;
using TorchSharp.Utils;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Kernels;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>HF <c>BertSelfOutput</c>: dense, then LayerNorm of the residual sum.</summary>
internal sealed class BertSelfOutput : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly Dense dense;
    [ComponentName(Name = "LayerNorm")] private readonly LayerNormalization layerNorm;

    public BertSelfOutput(WeightPath w, EncoderConfig config) : base("output")
    {
        dense = new Dense(w["dense"], config.HiddenSize, config.HiddenSize, role: LinearRole.AttentionOutput);
        layerNorm = new LayerNormalization(w["LayerNorm"], config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    public Dense DenseLayer => dense;

    /// <param name="context">(B, S, H) merged heads.</param>
    /// <param name="residual">(B, S, H) the block's input.</param>
    public override Tensor forward(Tensor context, Tensor residual) => layerNorm.forward(dense.forward(context), residual);
}

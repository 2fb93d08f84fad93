using TorchSharp;
using TorchSharp.Utils;
using TransformerEmbeddings.Configuration;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>HF <c>MPNetAttention</c> (<c>attention</c>): self-attention, then LayerNorm of the residual sum.</summary>
internal sealed class MPNetAttention : nn.Module
{
    private readonly MPNetSelfAttention attn;
    [ComponentName(Name = "LayerNorm")] private readonly LayerNormalization layerNorm;

    public MPNetAttention(WeightPath w, EncoderConfig config) : base("attention")
    {
        attn = new MPNetSelfAttention(w["attn"], config);
        layerNorm = new LayerNormalization(w["LayerNorm"], config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    public MPNetSelfAttention Attn => attn;

    /// <param name="x">(B, S, H) the layer's input.</param>
    /// <param name="additiveMask">(B, 1, 1, S), or null when nothing is padded.</param>
    /// <param name="positionBias">(heads, S, S).</param>
    /// <param name="layer">This block's index, for the trace.</param>
    /// <param name="trace">Hook points, or null.</param>
    public Tensor forward(Tensor x, Tensor? additiveMask, Tensor positionBias, int layer, ForwardTrace? trace) =>
        layerNorm.forward(attn.forward(x, additiveMask, positionBias, layer, trace), x); // (B, S, H)
}

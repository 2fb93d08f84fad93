using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using TransformerEmbeddings.Configuration;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>HF <c>BertLMPredictionHead</c> (<c>cls.predictions</c>): transform (dense, activation, LayerNorm), then the tied decoder plus a bias.</summary>
internal sealed class BertLMPredictionHead : MaskedLanguageModelHead
{
    private readonly Dense dense;                                   // transform.dense
    [ComponentName(Name = "LayerNorm")] private readonly LayerNormalization layerNorm; // transform.LayerNorm
    private readonly Parameter bias;                                // (V)
    private readonly TiedWeight decoder;                            // tied: E
    private readonly HiddenActivation activation;

    public BertLMPredictionHead(WeightPath w, EncoderConfig config, EmbeddingTable wordEmbeddings) : base("predictions")
    {
        dense = new Dense(w["transform"]["dense"], config.HiddenSize, config.HiddenSize);
        layerNorm = new LayerNormalization(w["transform"]["LayerNorm"], config.HiddenSize, config.LayerNormEps);
        bias = w.Take("bias", config.VocabSize);
        decoder = new TiedWeight(wordEmbeddings);
        activation = config.HiddenAct;
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden)
    {
        var x = layerNorm.call(Activation.Apply(activation, dense.call(hidden))); // (B, S, H)
        return nn.functional.linear(x, decoder.Weight, bias);                   // (B, S, V)
    }
}

using TorchSharp;
using TorchSharp.Modules;
using TransformerEmbeddings.Configuration;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>HF <c>BertLMPredictionHead</c> (<c>cls.predictions</c>): transform (dense, activation, LayerNorm), then the tied decoder plus a bias.</summary>
internal sealed class BertLMPredictionHead : MaskedLanguageModelHead
{
    private readonly BertPredictionHeadTransform transform;
    private readonly Parameter bias;                                // (V)
    private readonly TiedWeight decoder;                            // tied: E

    public BertLMPredictionHead(WeightPath w, EncoderConfig config, EmbeddingTable wordEmbeddings) : base("predictions")
    {
        transform = new BertPredictionHeadTransform(w["transform"], config);
        bias = w.Take("bias", config.VocabSize);
        decoder = new TiedWeight(wordEmbeddings);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden)
    {
        var x = transform.call(hidden);                                   // (B, S, H)
        return nn.functional.linear(x, decoder.Weight, bias);             // (B, S, V)
    }
}

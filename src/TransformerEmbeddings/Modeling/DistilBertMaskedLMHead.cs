using TorchSharp;
using TorchSharp.Modules;
using TransformerEmbeddings.Configuration;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// The head of HF <c>DistilBertForMaskedLM</c>, whose modules sit at the checkpoint's root beside <c>distilbert.</c>:
/// vocab_transform, the activation (config <c>activation</c>), vocab_layer_norm (eps 1e-12), then vocab_projector
/// with its weight tied to the word embeddings and its own bias.
/// </summary>
internal sealed class DistilBertMaskedLMHead : MaskedLanguageModelHead
{
    private readonly Dense vocab_transform;
    private readonly LayerNormalization vocab_layer_norm;
    private readonly Parameter bias;                                // vocab_projector.bias (V)
    private readonly TiedWeight vocab_projector;                    // tied: E
    private readonly HiddenActivation activation;

    public DistilBertMaskedLMHead(WeightPath w, EncoderConfig config, EmbeddingTable wordEmbeddings) : base("DistilBertForMaskedLM")
    {
        vocab_transform = new Dense(w["vocab_transform"], config.HiddenSize, config.HiddenSize);
        vocab_layer_norm = new LayerNormalization(w["vocab_layer_norm"], config.HiddenSize, config.LayerNormEps);
        bias = w["vocab_projector"].Take("bias", config.VocabSize);
        vocab_projector = new TiedWeight(wordEmbeddings);
        activation = config.HiddenAct;
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden)
    {
        var x = vocab_layer_norm.call(Activation.Apply(activation, vocab_transform.call(hidden))); // (B, S, H)
        return nn.functional.linear(x, vocab_projector.Weight, bias);                             // (B, S, V)
    }
}

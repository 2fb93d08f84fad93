using TorchSharp;
using TorchSharp.Modules;
using TransformerEmbeddings.Configuration;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// HF <c>RobertaLMHead</c> (<c>lm_head</c>): dense, exact GELU, layer_norm, then the tied decoder plus a bias.
/// XLM-R's <c>XLMRobertaLMHead</c> and MPNet's <c>MPNetLMHead</c> are the same module under the same names.
/// </summary>
internal sealed class RobertaLMHead : MaskedLanguageModelHead
{
    private readonly Dense dense;
    private readonly LayerNormalization layer_norm;
    private readonly Parameter bias;                                // (V)
    private readonly TiedWeight decoder;                            // tied: E

    public RobertaLMHead(WeightPath w, EncoderConfig config, EmbeddingTable wordEmbeddings) : base("lm_head")
    {
        dense = new Dense(w["dense"], config.HiddenSize, config.HiddenSize);
        layer_norm = new LayerNormalization(w["layer_norm"], config.HiddenSize, config.LayerNormEps);
        bias = w.Take("bias", config.VocabSize);
        decoder = new TiedWeight(wordEmbeddings);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden)
    {
        var x = layer_norm.call(dense.call(hidden).gelu());          // (B, S, H)
        return nn.functional.linear(x, decoder.Weight, bias);        // (B, S, V)
    }
}

using TorchSharp;
using TransformerEmbeddings.Configuration;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// An MLM head: hidden states (B, S, H) to vocabulary logits (B, S, V), its decoder tied to the word embeddings.
/// BERT's lives at <c>cls.predictions</c>, RoBERTa's, XLM-R's and MPNet's at <c>lm_head</c>, DistilBERT's at
/// <c>vocab_transform</c>/<c>vocab_layer_norm</c>/<c>vocab_projector</c>; all sit beside the base model's prefix
/// (the tied keys they omit are the loader's business, <see cref="Weights.CheckpointLayout"/>).
/// </summary>
internal abstract class MaskedLanguageModelHead : nn.Module<Tensor, Tensor>
{
    protected MaskedLanguageModelHead(string name) : base(name)
    {
    }

    /// <summary>Loads the head the checkpoint carries, or returns null when it has none.</summary>
    public static MaskedLanguageModelHead? Load(WeightPath root, EncoderConfig config, EmbeddingTable wordEmbeddings) => config.Architecture switch
    {
        ModelArchitecture.Bert when root["cls"]["predictions"].Has("transform.dense.weight") =>
            new BertLMPredictionHead(root["cls"]["predictions"], config, wordEmbeddings),
        ModelArchitecture.Roberta or ModelArchitecture.MPNet when root["lm_head"].Has("dense.weight") =>
            new RobertaLMHead(root["lm_head"], config, wordEmbeddings),
        ModelArchitecture.DistilBert when root["vocab_transform"].Has("weight") =>
            new DistilBertMaskedLMHead(root, config, wordEmbeddings),
        _ => null,
    };
}

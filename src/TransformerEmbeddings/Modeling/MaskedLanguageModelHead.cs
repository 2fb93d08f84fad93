using TorchSharp;
using TransformerEmbeddings.Configuration;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// An MLM head: hidden states (B, S, H) to vocabulary logits (B, S, V), its decoder tied to the word embeddings.
/// BERT's lives at <c>cls.predictions</c>, RoBERTa's at <c>lm_head</c>; both sit beside the base model's prefix.
/// </summary>
internal abstract class MaskedLanguageModelHead : nn.Module<Tensor, Tensor>
{
    protected MaskedLanguageModelHead(string name) : base(name)
    {
    }

    /// <summary>Loads the head the checkpoint carries, or returns null when it has none.</summary>
    public static MaskedLanguageModelHead? Load(WeightPath root, EncoderConfig config, EmbeddingTable wordEmbeddings)
    {
        if (root["cls"]["predictions"].Has("transform.dense.weight"))
            return new BertLMPredictionHead(root["cls"]["predictions"], config, wordEmbeddings);
        if (root["lm_head"].Has("dense.weight"))
            return new RobertaLMHead(root["lm_head"], config, wordEmbeddings);
        return null;
    }
}

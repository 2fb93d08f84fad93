using TorchSharp;
using TorchSharp.Utils;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Runtime;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// HF <c>MPNetEmbeddings</c> (<c>mpnet.embeddings</c>): word + position, then LayerNorm; no token types. Position ids
/// are RoBERTa's with padding index 1 (<see cref="EncoderModel.PositionIds(EncoderConfig, Tensor)"/>).
/// </summary>
internal sealed class MPNetEmbeddings : nn.Module
{
    private readonly EmbeddingTable word_embeddings;
    private readonly EmbeddingTable position_embeddings;
    [ComponentName(Name = "LayerNorm")] private readonly LayerNormalization layerNorm;

    public MPNetEmbeddings(WeightPath w, EncoderConfig config) : base("embeddings")
    {
        word_embeddings = new EmbeddingTable(w["word_embeddings"], config.VocabSize, config.HiddenSize);
        position_embeddings = new EmbeddingTable(w["position_embeddings"], config.MaxPositionEmbeddings, config.HiddenSize);
        layerNorm = new LayerNormalization(w["LayerNorm"], config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    public EmbeddingTable WordEmbeddings => word_embeddings;

    public EmbeddingTable PositionEmbeddings => position_embeddings;

    /// <param name="inputsEmbeds">(B, S, H): <c>E[input_ids]</c>, or rows given instead (HF <c>inputs_embeds</c>).</param>
    /// <param name="positionIds">(B, S).</param>
    public Tensor forward(Tensor inputsEmbeds, Tensor positionIds)
    {
        using var x = inputsEmbeds.add(position_embeddings.call(positionIds), Scalars.One);
        return layerNorm.call(x);                                                 // (B, S, H)
    }
}

using TorchSharp;
using TorchSharp.Utils;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Runtime;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// HF DistilBERT's <c>Embeddings</c> (<c>distilbert.embeddings</c>): word + position, then LayerNorm (eps 1e-12); no
/// token types. A <c>sinusoidal_pos_embds</c> table is a parameter like any other, so it is read from the checkpoint.
/// </summary>
internal sealed class DistilBertEmbeddings : nn.Module
{
    private readonly EmbeddingTable word_embeddings;
    private readonly EmbeddingTable position_embeddings;
    [ComponentName(Name = "LayerNorm")] private readonly LayerNormalization layerNorm;

    public DistilBertEmbeddings(WeightPath w, EncoderConfig config) : base("embeddings")
    {
        word_embeddings = new EmbeddingTable(w["word_embeddings"], config.VocabSize, config.HiddenSize);
        position_embeddings = new EmbeddingTable(w["position_embeddings"], config.MaxPositionEmbeddings, config.HiddenSize);
        layerNorm = new LayerNormalization(w["LayerNorm"], config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    public EmbeddingTable WordEmbeddings => word_embeddings;

    public EmbeddingTable PositionEmbeddings => position_embeddings;

    /// <param name="inputsEmbeds">(B, S, H): <c>E[input_ids]</c>, or rows given instead (HF <c>input_embeds</c>).</param>
    /// <param name="positionIds">(B, S): 0..S-1.</param>
    public Tensor forward(Tensor inputsEmbeds, Tensor positionIds)
    {
        using var x = inputsEmbeds.add(position_embeddings.call(positionIds), Scalars.One);
        return layerNorm.call(x);                                                 // (B, S, H)
    }
}

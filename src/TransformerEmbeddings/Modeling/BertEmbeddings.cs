using TorchSharp;
using TorchSharp.Utils;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Runtime;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>HF <c>BertEmbeddings</c> / <c>RobertaEmbeddings</c> (and XLM-R's copy): word + position + token type, then LayerNorm.</summary>
internal sealed class BertEmbeddings : nn.Module
{
    private readonly EmbeddingTable word_embeddings;
    private readonly EmbeddingTable position_embeddings;
    private readonly EmbeddingTable token_type_embeddings;
    [ComponentName(Name = "LayerNorm")] private readonly LayerNormalization layerNorm;
    private readonly EncoderConfig config;

    public BertEmbeddings(WeightPath w, EncoderConfig config) : base("embeddings")
    {
        this.config = config;
        word_embeddings = new EmbeddingTable(w["word_embeddings"], config.VocabSize, config.HiddenSize);
        position_embeddings = new EmbeddingTable(w["position_embeddings"], config.MaxPositionEmbeddings, config.HiddenSize);
        token_type_embeddings = new EmbeddingTable(w["token_type_embeddings"], config.TypeVocabSize, config.HiddenSize);
        layerNorm = new LayerNormalization(w["LayerNorm"], config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    public EmbeddingTable WordEmbeddings => word_embeddings;

    public EmbeddingTable PositionEmbeddings => position_embeddings;

    public EmbeddingTable TokenTypeEmbeddings => token_type_embeddings;

    /// <summary>Position ids as HF makes them: BERT 0..S-1; RoBERTa padding_idx + cumsum(real), pads at padding_idx.</summary>
    public Tensor PositionIds(Tensor attentionMask) => EncoderModel.PositionIds(config, attentionMask); // (B, S) int64

    /// <param name="inputsEmbeds">(B, S, H): rows to use instead of <c>E[input_ids]</c> (HF <c>inputs_embeds</c>).</param>
    /// <param name="tokenTypeIds">(B, S).</param>
    /// <param name="positionIds">(B, S).</param>
    public Tensor forward(Tensor inputsEmbeds, Tensor tokenTypeIds, Tensor positionIds)
    {
        // The sum and its LayerNorm in one pass where the CPU kernels run; the same formula with libtorch otherwise.
        if (layerNorm.TryForwardOfSum(inputsEmbeds, token_type_embeddings.Weight, tokenTypeIds, position_embeddings.Weight, positionIds) is { } fused)
            return fused;
        var tokenTypes = token_type_embeddings.call(tokenTypeIds);
        var positions = position_embeddings.call(positionIds);
        var x = inputsEmbeds.add(tokenTypes, Scalars.One).add_(positions, Scalars.One);
        return layerNorm.call(x);                                                 // (B, S, H)
    }
}

using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Inspection;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// HF <c>DistilBertModel</c>: embeddings (word + position), then the <c>transformer</c> blocks; no token types, no
/// pooler. Parameter names are the checkpoint's keys (less DistilBertForMaskedLM's <c>distilbert.</c> prefix).
/// </summary>
internal sealed class DistilBertModel : EncoderModel
{
    private readonly DistilBertEmbeddings embeddings;
    private readonly DistilBertTransformer transformer;

    public DistilBertModel(WeightPath w, EncoderConfig config) : base("DistilBertModel", config)
    {
        embeddings = new DistilBertEmbeddings(w["embeddings"], config);
        transformer = new DistilBertTransformer(w["transformer"], config);
        RegisterComponents();
    }

    public override EmbeddingTable WordEmbeddings => embeddings.WordEmbeddings;

    public override EmbeddingTable PositionEmbeddings => embeddings.PositionEmbeddings;

    public override bool HasPooler => false;

    public override (Tensor LastHiddenState, Tensor? PoolerOutput) forward(
        Tensor? inputIds, Tensor? inputsEmbeds, Tensor attentionMask, Tensor tokenTypeIds, Tensor positionIds, ForwardTrace? trace)
    {
        var rows = inputsEmbeds ?? embeddings.WordEmbeddings.call(inputIds!);    // (B, S, H)
        trace?.Record(HookPoint.WordEmbeddings, rows);

        var x = embeddings.forward(rows, positionIds);                            // (B, S, H)
        trace?.Record(HookPoint.HiddenStates, 0, x);

        return (transformer.forward(x, AdditiveMask(attentionMask, x.dtype), trace), null);
    }

    public override AttentionProjections AttentionOf(int layer) => transformer.Layers[layer].Attention.Projections;
}

using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Inspection;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// HF <c>MPNetModel</c>: embeddings (word + position), the encoder with its relative position bias, and the pooler
/// when the checkpoint has one (HF's <c>MPNetPooler</c> is a copy of BERT's). Parameter names are the checkpoint's
/// keys (less MPNetForMaskedLM's <c>mpnet.</c> prefix).
/// </summary>
internal sealed class MPNetModel : EncoderModel
{
    private readonly MPNetEmbeddings embeddings;
    private readonly MPNetEncoder encoder;
    private readonly BertPooler? pooler;

    public MPNetModel(WeightPath w, EncoderConfig config) : base("MPNetModel", config)
    {
        embeddings = new MPNetEmbeddings(w["embeddings"], config);
        encoder = new MPNetEncoder(w["encoder"], config);
        pooler = w["pooler"].Has("dense.weight") ? new BertPooler(w["pooler"], config) : null;
        RegisterComponents();
    }

    public MPNetEncoder Encoder => encoder;

    public override EmbeddingTable WordEmbeddings => embeddings.WordEmbeddings;

    public override EmbeddingTable PositionEmbeddings => embeddings.PositionEmbeddings;

    public override bool HasPooler => pooler is not null;

    public override (Tensor LastHiddenState, Tensor? PoolerOutput) forward(
        Tensor? inputIds, Tensor? inputsEmbeds, Tensor attentionMask, Tensor tokenTypeIds, Tensor positionIds, ForwardTrace? trace)
    {
        var rows = inputsEmbeds ?? embeddings.WordEmbeddings.call(inputIds!);    // (B, S, H)
        trace?.Record(HookPoint.WordEmbeddings, rows);

        var x = embeddings.forward(rows, positionIds);                            // (B, S, H)
        trace?.Record(HookPoint.HiddenStates, 0, x);

        x = encoder.forward(x, AdditiveMask(attentionMask, x.dtype), trace);
        return (x, pooler?.call(x));
    }

    public override AttentionProjections AttentionOf(int layer) => encoder.Layers[layer].Attention.Attn.Projections;
}

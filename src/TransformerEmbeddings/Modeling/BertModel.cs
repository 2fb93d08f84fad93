using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Inspection;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// HF <c>BertModel</c> / <c>RobertaModel</c> / <c>XLMRobertaModel</c> (XLM-R's classes are RoBERTa's copies):
/// embeddings, encoder, optional pooler. Module names are HF's, so the parameter names are the checkpoint's keys (less
/// the <c>bert.</c>/<c>roberta.</c> prefix).
/// </summary>
internal sealed class BertModel : EncoderModel
{
    private readonly BertEmbeddings embeddings;
    private readonly BertEncoder encoder;
    private readonly BertPooler? pooler;

    public BertModel(WeightPath w, EncoderConfig config) : base(config.Architecture == ModelArchitecture.Roberta ? "RobertaModel" : "BertModel", config)
    {
        embeddings = new BertEmbeddings(w["embeddings"], config);
        encoder = new BertEncoder(w["encoder"], config);
        pooler = w["pooler"].Has("dense.weight") ? new BertPooler(w["pooler"], config) : null;
        RegisterComponents();
    }

    public BertEmbeddings Embeddings => embeddings;

    public BertEncoder Encoder => encoder;

    public override EmbeddingTable WordEmbeddings => embeddings.WordEmbeddings;

    public override EmbeddingTable PositionEmbeddings => embeddings.PositionEmbeddings;

    public override EmbeddingTable TokenTypeEmbeddings => embeddings.TokenTypeEmbeddings;

    public override bool HasPooler => pooler is not null;

    public override (Tensor LastHiddenState, Tensor? PoolerOutput) forward(
        Tensor? inputIds, Tensor? inputsEmbeds, Tensor attentionMask, Tensor tokenTypeIds, Tensor positionIds, ForwardTrace? trace)
    {
        var rows = inputsEmbeds ?? embeddings.WordEmbeddings.call(inputIds!);    // (B, S, H)
        trace?.Record(HookPoint.WordEmbeddings, rows);

        var x = embeddings.forward(rows, tokenTypeIds, positionIds);              // (B, S, H)
        trace?.Record(HookPoint.HiddenStates, 0, x);

        x = encoder.forward(x, AdditiveMask(attentionMask, x.dtype), trace);
        return (x, pooler?.call(x));
    }

    public override AttentionProjections AttentionOf(int layer)
    {
        var attention = encoder.Layers[layer].Attention;
        return new(attention.Self.Query, attention.Self.Key, attention.Self.Value, attention.Output.DenseLayer);
    }
}

using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Inspection;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// HF <c>BertModel</c> / <c>RobertaModel</c>: embeddings, encoder, optional pooler. Module names are HF's, so the
/// parameter names are the checkpoint's keys (less the <c>bert.</c>/<c>roberta.</c> prefix).
/// </summary>
internal sealed class BertModel : nn.Module
{
    private readonly BertEmbeddings embeddings;
    private readonly BertEncoder encoder;
    private readonly BertPooler? pooler;

    public BertModel(WeightPath w, EncoderConfig config) : base(config.Architecture == ModelArchitecture.Roberta ? "RobertaModel" : "BertModel")
    {
        Config = config;
        embeddings = new BertEmbeddings(w["embeddings"], config);
        encoder = new BertEncoder(w["encoder"], config);
        pooler = w["pooler"].Has("dense.weight") ? new BertPooler(w["pooler"], config) : null;
        RegisterComponents();
    }

    public EncoderConfig Config { get; }

    public BertEmbeddings Embeddings => embeddings;

    public BertEncoder Encoder => encoder;

    public bool HasPooler => pooler is not null;

    /// <summary>Runs the model. Exactly one of <paramref name="inputIds"/> and <paramref name="inputsEmbeds"/> is given.</summary>
    /// <param name="inputIds">(B, S) int64, or null when <paramref name="inputsEmbeds"/> is given.</param>
    /// <param name="inputsEmbeds">(B, S, H) rows to use instead of <c>E[input_ids]</c>, or null.</param>
    /// <param name="attentionMask">(B, S) 1 for real tokens, 0 for padding.</param>
    /// <param name="tokenTypeIds">(B, S).</param>
    /// <param name="positionIds">(B, S).</param>
    /// <param name="trace">Hook points, or null to record nothing.</param>
    /// <returns>last_hidden_state (B, S, H) and pooler_output (B, H) when the checkpoint has a pooler.</returns>
    public (Tensor LastHiddenState, Tensor? PoolerOutput) forward(
        Tensor? inputIds, Tensor? inputsEmbeds, Tensor attentionMask, Tensor tokenTypeIds, Tensor positionIds, ForwardTrace? trace)
    {
        var rows = inputsEmbeds ?? embeddings.WordEmbeddings.call(inputIds!);    // (B, S, H)
        trace?.Record(HookPoint.WordEmbeddings, rows);

        var x = embeddings.forward(rows, tokenTypeIds, positionIds);              // (B, S, H)
        trace?.Record(HookPoint.HiddenStates, 0, x);

        // HF's extended mask: 0 where attended, the dtype's most negative value on padded keys. A batch without
        // padding adds zeros only, so it gets no mask at all (same values; attention skips the mask reads).
        Tensor? additive = null;
        if (!attentionMask.all().item<bool>())
            additive = (1 - attentionMask.to(x.dtype)).mul(finfo(x.dtype).min).view(attentionMask.shape[0], 1, 1, attentionMask.shape[1]);
        x = encoder.forward(x, additive, trace);
        return (x, pooler?.call(x));
    }
}

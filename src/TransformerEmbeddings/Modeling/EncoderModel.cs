using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Runtime;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// A family's base model (HF's <c>BertModel</c>, <c>DistilBertModel</c>, <c>MPNetModel</c>) as <see cref="TransformerModel"/>
/// runs it: ids or input vectors in, the last hidden state (and pooler output) out, internals recorded under the same
/// names in every family. Module names below it are HF's, so parameter names are the checkpoint's keys.
/// </summary>
internal abstract class EncoderModel : nn.Module
{
    protected EncoderModel(string name, EncoderConfig config) : base(name)
    {
        Config = config;
    }

    public EncoderConfig Config { get; }

    /// <summary>E, (vocab, H).</summary>
    public abstract EmbeddingTable WordEmbeddings { get; }

    /// <summary>The position table, (max_position_embeddings, H).</summary>
    public abstract EmbeddingTable PositionEmbeddings { get; }

    /// <summary>The token-type table, or null for families without one (DistilBERT, MPNet).</summary>
    public virtual EmbeddingTable? TokenTypeEmbeddings => null;

    public abstract bool HasPooler { get; }

    /// <summary>The model for a configuration, taking its weights from <paramref name="w"/>.</summary>
    public static EncoderModel Create(WeightPath w, EncoderConfig config) => config.Architecture switch
    {
        ModelArchitecture.Bert or ModelArchitecture.Roberta => new BertModel(w, config),
        ModelArchitecture.DistilBert => new DistilBertModel(w, config),
        ModelArchitecture.MPNet => new MPNetModel(w, config),
        _ => throw new ArgumentOutOfRangeException(nameof(config), config.Architecture, null),
    };

    /// <summary>
    /// Position ids as HF makes them: 0..S-1 (BERT, DistilBERT); padding_idx + cumsum(real tokens), pads at
    /// padding_idx (RoBERTa, MPNet). (B, S) int64.
    /// </summary>
    public static Tensor PositionIds(EncoderConfig config, Tensor attentionMask)
    {
        var (b, s) = (attentionMask.shape[0], attentionMask.shape[1]);
        if (config.PositionPaddingIndex is not { } padding)
            return Scalars.Arange(0, s, ScalarType.Int64, attentionMask.device).unsqueeze(0).expand(b, s);
        var real = attentionMask.to(ScalarType.Int64);
        using var paddingIdx = padding.ToScalar();
        return (real.cumsum(1) * real).add(paddingIdx, Scalars.One);
    }

    /// <inheritdoc cref="PositionIds(EncoderConfig, Tensor)"/>
    public Tensor PositionIds(Tensor attentionMask) => PositionIds(Config, attentionMask);

    /// <summary>Runs the model. Exactly one of <paramref name="inputIds"/> and <paramref name="inputsEmbeds"/> is given.</summary>
    /// <param name="inputIds">(B, S) int64, or null when <paramref name="inputsEmbeds"/> is given.</param>
    /// <param name="inputsEmbeds">(B, S, H) rows to use instead of <c>E[input_ids]</c>, or null.</param>
    /// <param name="attentionMask">(B, S) 1 for real tokens, 0 for padding.</param>
    /// <param name="tokenTypeIds">(B, S); ignored by families without token types.</param>
    /// <param name="positionIds">(B, S).</param>
    /// <param name="trace">Hook points, or null to record nothing.</param>
    /// <returns>last_hidden_state (B, S, H) and pooler_output (B, H) when the checkpoint has a pooler.</returns>
    public abstract (Tensor LastHiddenState, Tensor? PoolerOutput) forward(
        Tensor? inputIds, Tensor? inputsEmbeds, Tensor attentionMask, Tensor tokenTypeIds, Tensor positionIds, ForwardTrace? trace);

    /// <summary>The query, key, value and output projections of a layer's attention block.</summary>
    public abstract AttentionProjections AttentionOf(int layer);

    /// <summary>
    /// HF's extended attention mask, (B, 1, 1, S): 0 where attended, the dtype's most negative value on padded keys
    /// (DistilBERT's masked_fill with that value gives the same probabilities). A batch without padding adds zeros
    /// only, so it gets no mask at all (same values; attention skips the mask reads).
    /// </summary>
    protected static Tensor? AdditiveMask(Tensor attentionMask, ScalarType dtype)
    {
        if (attentionMask.all().item<bool>()) return null;
        using var min = finfo(dtype).min.ToScalar();
        return Scalars.OneMinus(attentionMask.to(dtype)).mul(min).view(attentionMask.shape[0], 1, 1, attentionMask.shape[1]);
    }
}

namespace TransformerEmbeddings.Configuration;

/// <summary>The encoder family a <c>model_type</c> belongs to: which module tree and which position ids the model uses.</summary>
public enum ModelArchitecture
{
    /// <summary>BERT: position ids 0..S-1, token-type embeddings.</summary>
    Bert,

    /// <summary>RoBERTa (also XLM-RoBERTa, CamemBERT): BERT's tree; position ids start at <c>pad_token_id + 1</c>, pads get <c>pad_token_id</c>.</summary>
    Roberta,

    /// <summary>DistilBERT: word and position embeddings (ids 0..S-1) only; <c>transformer.layer.N</c> blocks; no pooler.</summary>
    DistilBert,

    /// <summary>MPNet: word and position embeddings (RoBERTa's ids, padding index 1); a relative position bias shared by all layers.</summary>
    MPNet,
}

/// <summary>
/// The one list of <c>model_type</c>s per architecture and what the architecture implies for positions, shared by
/// <see cref="EncoderConfig"/> and the tokenizer's default token limit.
/// </summary>
internal static class ModelArchitectures
{
    /// <summary>Every supported <c>model_type</c>, for messages.</summary>
    public static IReadOnlyList<string> ModelTypes { get; } = ["bert", "roberta", "xlm-roberta", "camembert", "distilbert", "mpnet"];

    /// <summary>The architecture of a <c>model_type</c>, or null when it is not supported.</summary>
    public static ModelArchitecture? Of(string? modelType) => modelType switch
    {
        "bert" => ModelArchitecture.Bert,
        "roberta" or "xlm-roberta" or "camembert" => ModelArchitecture.Roberta,
        "distilbert" => ModelArchitecture.DistilBert,
        "mpnet" => ModelArchitecture.MPNet,
        _ => null,
    };

    /// <summary>HF's <c>pad_token_id</c> default: RoBERTa's and MPNet's padding index is 1.</summary>
    public static int DefaultPadTokenId(ModelArchitecture architecture) =>
        architecture is ModelArchitecture.Roberta or ModelArchitecture.MPNet ? 1 : 0;

    /// <summary>
    /// The padding index position ids count from (RoBERTa's <c>pad_token_id</c>; MPNet's is 1 whatever the config
    /// says, as in HF's MPNetEmbeddings), or null where positions are 0..S-1 (BERT, DistilBERT).
    /// </summary>
    public static int? PositionPaddingIndex(ModelArchitecture architecture, int padTokenId) => architecture switch
    {
        ModelArchitecture.Roberta => padTokenId,
        ModelArchitecture.MPNet => 1,
        _ => null,
    };

    /// <summary>
    /// The longest sequence a position table of <paramref name="maxPositions"/> rows allows: all of them, or those after
    /// the padding index where positions start at <c>padding_idx + 1</c> (RoBERTa, MPNet).
    /// </summary>
    public static int MaxSequenceLength(ModelArchitecture architecture, int maxPositions, int padTokenId) =>
        PositionPaddingIndex(architecture, padTokenId) is { } p ? maxPositions - p - 1 : maxPositions;
}

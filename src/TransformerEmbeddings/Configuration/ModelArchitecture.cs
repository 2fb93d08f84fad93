namespace TransformerEmbeddings.Configuration;

/// <summary>Which embedding flavour the encoder uses; everything after the embeddings is shared.</summary>
public enum ModelArchitecture
{
    /// <summary>BERT: position ids 0..S-1.</summary>
    Bert,

    /// <summary>RoBERTa (also XLM-RoBERTa, CamemBERT): position ids start at <c>pad_token_id + 1</c>, pads get <c>pad_token_id</c>.</summary>
    Roberta,
}

/// <summary>
/// The one list of <c>model_type</c>s per architecture and what the architecture implies for positions, shared by
/// <see cref="EncoderConfig"/> and the tokenizer's default token limit.
/// </summary>
internal static class ModelArchitectures
{
    /// <summary>Every supported <c>model_type</c>, for messages.</summary>
    public static IReadOnlyList<string> ModelTypes { get; } = ["bert", "roberta", "xlm-roberta", "camembert"];

    /// <summary>The architecture of a <c>model_type</c>, or null when it is not supported.</summary>
    public static ModelArchitecture? Of(string? modelType) => modelType switch
    {
        "bert" => ModelArchitecture.Bert,
        "roberta" or "xlm-roberta" or "camembert" => ModelArchitecture.Roberta,
        _ => null,
    };

    /// <summary>HF's <c>pad_token_id</c> default: RoBERTa's padding index is 1.</summary>
    public static int DefaultPadTokenId(ModelArchitecture architecture) => architecture == ModelArchitecture.Roberta ? 1 : 0;

    /// <summary>
    /// The longest sequence a position table of <paramref name="maxPositions"/> rows allows: all of them, or for RoBERTa
    /// those after the padding index (positions start at <c>pad_token_id + 1</c>).
    /// </summary>
    public static int MaxSequenceLength(ModelArchitecture architecture, int maxPositions, int padTokenId) =>
        architecture == ModelArchitecture.Roberta ? maxPositions - padTokenId - 1 : maxPositions;
}

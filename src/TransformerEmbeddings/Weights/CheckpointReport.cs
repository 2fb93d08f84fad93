namespace TransformerEmbeddings.Weights;

/// <summary>What loading a checkpoint found: which files, which key prefix, optional heads, and tensors left unused.</summary>
/// <param name="Files">The safetensors files read (one, or the shards named by the index).</param>
/// <param name="KeyPrefix">The prefix the checkpoint puts before HF module names (<c>bert.</c>, <c>roberta.</c>, <c>distilbert.</c>, <c>mpnet.</c>) or empty.</param>
/// <param name="HasPooler">Whether the checkpoint carries pooler weights (then <c>pooler_output</c> exists).</param>
/// <param name="HasMaskedLanguageModelHead">Whether an MLM head (<c>cls.predictions.*</c>, <c>lm_head.*</c>, or DistilBERT's <c>vocab_transform.*</c> ...) is present.</param>
/// <param name="UsedLegacyLayerNormNames">Whether <c>LayerNorm.gamma/beta</c> names were mapped to weight/bias.</param>
/// <param name="UnusedTensors">Tensors the encoder does not use (heads, buffers), reported rather than fatal; tied copies of other weights are not listed.</param>
/// <param name="SourceDType">The storage type of the floating-point weights as found in the files.</param>
public sealed record CheckpointReport(
    IReadOnlyList<string> Files,
    string KeyPrefix,
    bool HasPooler,
    bool HasMaskedLanguageModelHead,
    bool UsedLegacyLayerNormNames,
    IReadOnlyList<string> UnusedTensors,
    SafeTensorsDType SourceDType);

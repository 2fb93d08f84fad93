namespace TransformerEmbeddings.Analysis;

/// <summary>Which vectors stand for the vocabulary before a layer's value projection.</summary>
public enum VocabularyInput
{
    /// <summary>
    /// Each token as the embeddings block makes it at the query's position: <c>E[id]</c> + the position embedding that
    /// position uses + token-type embedding 0 (where the family has token types), through the embeddings LayerNorm.
    /// The definition <c>../shared/golden/*.nearest.json</c> uses.
    /// </summary>
    EmbeddingOutput,

    /// <summary>The raw rows <c>E[id]</c>: no position, token type or LayerNorm.</summary>
    WordEmbeddings,

    /// <summary>
    /// <see cref="EmbeddingOutput"/> moved to the distribution of the hidden state the layer reads: standardised per
    /// dimension over the vocabulary, then given that hidden state's per-dimension mean and standard deviation over the
    /// output's real tokens (needs <c>ActivationKind.HiddenStates</c> captured).
    /// </summary>
    LayerInputStatistics,
}

namespace TransformerEmbeddings.Pipelines;

/// <summary>What one text gives (sentence-transformers' <c>output_value</c>).</summary>
public enum EmbeddingOutput
{
    /// <summary>One vector per text: the folder's whole pipeline (pooling, Dense, Normalize), <c>sentence_embedding</c>.</summary>
    SentenceVector,

    /// <summary>The last hidden state of every real token of the text, (tokens, hidden), <c>token_embeddings</c>.</summary>
    TokenVectors,
}

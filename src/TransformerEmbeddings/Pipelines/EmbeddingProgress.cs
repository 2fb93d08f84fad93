namespace TransformerEmbeddings.Pipelines;

/// <summary>How far one embedding call has come; reported as forward passes finish (in order) and once at the end.</summary>
/// <param name="Texts">Texts whose results were handed out, in input order.</param>
/// <param name="Tokens">Real (unpadded) tokens run through the model.</param>
/// <param name="PaddedTokens">Tokens the forward passes computed, padding included.</param>
/// <param name="TruncatedTexts">Texts cut at the token limit.</param>
/// <param name="Elapsed">Time since the call started.</param>
/// <param name="Completed">Whether this is the final report of the call.</param>
public readonly record struct EmbeddingProgress(long Texts, long Tokens, long PaddedTokens, long TruncatedTexts, TimeSpan Elapsed, bool Completed)
{
    /// <summary>Real tokens per second so far.</summary>
    public double TokensPerSecond => Elapsed.TotalSeconds > 0 ? Tokens / Elapsed.TotalSeconds : 0;

    /// <summary>Texts per second so far.</summary>
    public double TextsPerSecond => Elapsed.TotalSeconds > 0 ? Texts / Elapsed.TotalSeconds : 0;
}

namespace TransformerEmbeddings.Tokenization;

/// <summary>A token's span in the text it came from, in UTF-16 code units: [Start, End). Special tokens have (0, 0).</summary>
/// <param name="Start">Index of the first UTF-16 code unit the token covers.</param>
/// <param name="End">Index one past the last UTF-16 code unit the token covers.</param>
public readonly record struct TokenOffset(int Start, int End);

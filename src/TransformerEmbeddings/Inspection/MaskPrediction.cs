namespace TransformerEmbeddings.Inspection;

/// <summary>One vocabulary entry scored by the masked-language-model head.</summary>
/// <param name="Id">The token id.</param>
/// <param name="Token">The token as the vocabulary spells it.</param>
/// <param name="Logit">The raw logit.</param>
/// <param name="Probability">softmax over the whole vocabulary.</param>
public readonly record struct TokenScore(int Id, string Token, float Logit, float Probability);

/// <summary>The head's best candidates for one mask token, highest logit first.</summary>
/// <param name="Sequence">The row of the batch.</param>
/// <param name="Position">The token position of the mask.</param>
/// <param name="Candidates">The top-k candidates.</param>
public sealed record MaskPrediction(int Sequence, int Position, IReadOnlyList<TokenScore> Candidates);

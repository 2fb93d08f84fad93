using TransformerEmbeddings.Inspection;

namespace TransformerEmbeddings.Analysis;

/// <summary>What the masked-language-model head reads from one token's hidden state at one depth.</summary>
/// <param name="HiddenState">0 the embeddings output, l + 1 the output of block l.</param>
/// <param name="Sequence">The row of the batch.</param>
/// <param name="Position">The token index.</param>
/// <param name="Candidates">The top k vocabulary entries, highest logit first (probabilities over the whole vocabulary).</param>
public sealed record LensPrediction(int HiddenState, int Sequence, int Position, IReadOnlyList<TokenScore> Candidates);

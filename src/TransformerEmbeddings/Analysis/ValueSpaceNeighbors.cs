namespace TransformerEmbeddings.Analysis;

/// <summary>
/// What a token's per-head encoding at one layer is nearest to in that layer's value space, head by head.
/// </summary>
/// <param name="Layer">The block, 0-based.</param>
/// <param name="Sequence">The row of the batch.</param>
/// <param name="Position">The token index in the row, special tokens included.</param>
/// <param name="TokenId">The id of the token at that position.</param>
/// <param name="Heads">One entry per head asked for, in head order.</param>
public sealed record ValueSpaceNeighbors(int Layer, int Sequence, int Position, int TokenId, IReadOnlyList<HeadNeighbors> Heads);

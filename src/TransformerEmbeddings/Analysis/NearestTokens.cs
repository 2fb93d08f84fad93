namespace TransformerEmbeddings.Analysis;

/// <summary>The k nearest candidates under one metric, nearest first, and where the query's own token ranks.</summary>
/// <param name="Tokens">The top k, ascending distance.</param>
/// <param name="SelfRank">The 0-based rank of the query's own token among all candidates (how many are strictly nearer);
/// null when the query's own token is not a candidate.</param>
public sealed record NearestTokens(IReadOnlyList<TokenDistance> Tokens, int? SelfRank);

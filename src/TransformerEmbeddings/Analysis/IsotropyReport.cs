namespace TransformerEmbeddings.Analysis;

/// <summary>
/// How spread out a set of vectors is (the token-embedding primer's collapse check). An isotropic set has a mean pairwise
/// cosine near 0 and an effective rank near its dimension; a collapsed one (every vector in a narrow cone, or on a few
/// directions) has a mean cosine near 1 or a small effective rank.
/// </summary>
/// <param name="Count">The number of vectors measured.</param>
/// <param name="Dimension">Their length.</param>
/// <param name="MeanPairwiseCosine">The mean cosine similarity over all pairs of distinct vectors.</param>
/// <param name="EffectiveRank">exp of the entropy of the normalised singular values (Roy and Vetterli, 2007): 1 for vectors on one line, the dimension for a perfectly even spread.</param>
/// <param name="MeanNorm">The mean L2 norm.</param>
public sealed record IsotropyReport(int Count, int Dimension, double MeanPairwiseCosine, double EffectiveRank, double MeanNorm);

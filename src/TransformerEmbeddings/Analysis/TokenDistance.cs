namespace TransformerEmbeddings.Analysis;

/// <summary>One candidate of a nearest-token search.</summary>
/// <param name="Id">The token id.</param>
/// <param name="Token">The token as the vocabulary spells it (<c>##ing</c>, <c>Ġbank</c>).</param>
/// <param name="Distance">Its distance to the target under the search's metric.</param>
/// <param name="Position">For searches among a sequence's own tokens: the token's position; null for vocabulary searches.</param>
public readonly record struct TokenDistance(int Id, string Token, double Distance, int? Position = null);

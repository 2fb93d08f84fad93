namespace TransformerEmbeddings;

/// <summary>One result of a semantic search: a corpus row and its score (higher is more similar).</summary>
/// <param name="CorpusId">The 0-based row of the corpus.</param>
/// <param name="Score">The similarity of the query and that row.</param>
public readonly record struct SearchHit(int CorpusId, float Score);

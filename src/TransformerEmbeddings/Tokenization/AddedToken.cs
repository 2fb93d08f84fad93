namespace TransformerEmbeddings.Tokenization;

/// <summary>An HF <c>AddedToken</c> with its id.</summary>
internal sealed record AddedToken(string Content, int Id, bool SingleWord, bool LStrip, bool RStrip, bool Normalized, bool Special);

namespace TransformerEmbeddings.Tokenization;

/// <summary>A model token: id, string and its [Start, End) range of code points within the word.</summary>
internal readonly record struct ModelToken(int Id, string Value, int Start, int End);

namespace TransformerEmbeddings.Tokenization;

/// <summary>A word of a pre-tokenized piece: the code points [Start, End) of the piece.</summary>
internal readonly record struct WordRange(int Start, int End);

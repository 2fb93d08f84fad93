namespace TransformerEmbeddings.Tokenization;

/// <summary>A model stage (HF <c>Model</c>): turns one word into tokens.</summary>
internal interface ITokenizerModel
{
    void Tokenize(ReadOnlySpan<NChar> word, List<ModelToken> output);

    int? TokenToId(string token);

    string? IdToToken(int id);

    int VocabSize { get; }

    /// <summary>The largest id of the vocabulary (-1 when it is empty): what the weights' vocab_size must exceed.</summary>
    int LargestId { get; }
}

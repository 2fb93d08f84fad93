namespace TransformerEmbeddings.Tokenization;

/// <summary>A post-processor stage (HF <c>PostProcessor</c>): adds special tokens, sets type and sequence ids.</summary>
internal interface IPostProcessor
{
    int AddedTokens(bool isPair);

    /// <summary>The special tokens it adds, with their ids and token type ids, and the type ids it gives the texts.</summary>
    IEnumerable<(string Token, int Id, int TypeId)> Specials { get; }

    /// <summary>The token type ids it gives the texts' own tokens.</summary>
    IEnumerable<int> SequenceTypeIds { get; }

    /// <summary>The final encoding; without <paramref name="addSpecialTokens"/> only the stage's other work (RoBERTa's offset trimming) is done.</summary>
    TokenizedText Process(SequenceEncoding a, SequenceEncoding? b, int truncated, bool addSpecialTokens = true);
}

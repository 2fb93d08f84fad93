namespace TransformerEmbeddings.Tokenization;

/// <summary>A post-processor stage (HF <c>PostProcessor</c>): adds special tokens, sets type and sequence ids.</summary>
internal interface IPostProcessor
{
    int AddedTokens(bool isPair);

    /// <summary>The final encoding; without <paramref name="addSpecialTokens"/> only the stage's other work (RoBERTa's offset trimming) is done.</summary>
    TokenizedText Process(SequenceEncoding a, SequenceEncoding? b, int truncated, bool addSpecialTokens = true);
}

namespace TransformerEmbeddings.Tokenization;

/// <summary>A post-processor stage (HF <c>PostProcessor</c>): adds special tokens, sets type and sequence ids.</summary>
internal interface IPostProcessor
{
    int AddedTokens(bool isPair);

    TokenizedText Process(SequenceEncoding a, SequenceEncoding? b, int truncated);
}

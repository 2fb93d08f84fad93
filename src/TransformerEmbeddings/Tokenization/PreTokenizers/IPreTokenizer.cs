namespace TransformerEmbeddings.Tokenization;

/// <summary>A pre-tokenizer stage (HF <c>PreTokenizer</c>): splits a normalized piece into words (non-empty).</summary>
internal interface IPreTokenizer
{
    /// <summary>
    /// Appends the words of <paramref name="piece"/> to <paramref name="words"/> as ranges of the returned list
    /// (<paramref name="piece"/> itself, or a new list when the stage inserts chars).
    /// </summary>
    List<NChar> Split(List<NChar> piece, List<WordRange> words);
}

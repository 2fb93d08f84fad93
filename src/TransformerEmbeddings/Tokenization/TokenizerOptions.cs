namespace TransformerEmbeddings.Tokenization;

/// <summary>Options for <see cref="TransformerTokenizer.Load"/>.</summary>
public sealed class TokenizerOptions
{
    /// <summary>
    /// The default token limit (special tokens included) that <see cref="TransformerTokenizer.Encode(string, int?, bool)"/>
    /// truncates to. Null: the folder's limit (see <see cref="TransformerTokenizer.MaxLength"/>).
    /// </summary>
    public int? MaxLength { get; init; }

    /// <summary>
    /// Whether the <c>truncation</c> block of tokenizer.json sets the default limit (when <see cref="MaxLength"/> is null).
    /// Off by default, as in a plain HuggingFace call, which ignores that block. Its <c>padding</c> block is always ignored.
    /// </summary>
    public bool ApplyTokenizerJsonTruncation { get; init; }
}

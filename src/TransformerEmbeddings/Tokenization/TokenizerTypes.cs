namespace TransformerEmbeddings.Tokenization;

/// <summary>A token's span in the text it came from, in UTF-16 code units: [Start, End). Special tokens have (0, 0).</summary>
/// <param name="Start">Index of the first UTF-16 code unit the token covers.</param>
/// <param name="End">Index one past the last UTF-16 code unit the token covers.</param>
public readonly record struct TokenOffset(int Start, int End);

/// <summary>Which tokenization algorithm a <see cref="TransformerTokenizer"/> runs.</summary>
public enum TokenizerKind
{
    /// <summary>BERT's WordPiece (BertNormalizer, BertPreTokenizer, greedy longest-match-first sub-words).</summary>
    WordPiece,

    /// <summary>GPT-2/RoBERTa byte-level BPE (ByteLevel pre-tokenizer, BPE merges over UTF-8 bytes).</summary>
    ByteLevelBpe,
}

/// <summary>Options for <see cref="TransformerTokenizer.FromFolder"/>.</summary>
public sealed class TokenizerOptions
{
    /// <summary>
    /// The default token limit (special tokens included) that <see cref="TransformerTokenizer.Encode(string, int?)"/>
    /// truncates to. Null: the folder's limit (see <see cref="TransformerTokenizer.MaxLength"/>).
    /// </summary>
    public int? MaxLength { get; init; }

    /// <summary>
    /// Whether the <c>truncation</c> block of tokenizer.json sets the default limit (when <see cref="MaxLength"/> is null).
    /// Off by default, as in a plain HuggingFace call, which ignores that block. Its <c>padding</c> block is always ignored.
    /// </summary>
    public bool ApplyTokenizerJsonTruncation { get; init; }
}

/// <summary>A tokenizer file is missing, malformed, or uses a component this library does not implement.</summary>
public sealed class TokenizerException : TransformerEmbeddingsException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong, naming the file and the component or field.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public TokenizerException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// One encoded input, a single text or a pair, with special tokens, exactly as HuggingFace tokenizers' <c>Encoding</c>.
/// All lists have <see cref="Count"/> entries.
/// </summary>
public sealed class TokenizedText
{
    internal TokenizedText(int[] ids, string[] tokens, TokenOffset[] offsets, int?[] wordIds, int?[] sequenceIds,
        int[] typeIds, int[] specialTokensMask, int truncatedTokenCount)
    {
        Ids = ids;
        Tokens = tokens;
        Offsets = offsets;
        WordIds = wordIds;
        SequenceIds = sequenceIds;
        TypeIds = typeIds;
        SpecialTokensMask = specialTokensMask;
        TruncatedTokenCount = truncatedTokenCount;
    }

    /// <summary>The token ids (input_ids).</summary>
    public IReadOnlyList<int> Ids { get; }

    /// <summary>The token strings, as the vocabulary spells them (e.g. "##ing", "Ġthe").</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary>UTF-16 spans into the token's own text (the pair's second text for its tokens); (0, 0) for special tokens.</summary>
    public IReadOnlyList<TokenOffset> Offsets { get; }

    /// <summary>The index of the word (pre-tokenizer split) each token belongs to, per sequence; null for special tokens.</summary>
    public IReadOnlyList<int?> WordIds { get; }

    /// <summary>0 for tokens of the first text, 1 for the pair's second text, null for special tokens.</summary>
    public IReadOnlyList<int?> SequenceIds { get; }

    /// <summary>The token type ids (token_type_ids / segment ids).</summary>
    public IReadOnlyList<int> TypeIds { get; }

    /// <summary>1 for special tokens the post-processor added ([CLS], [SEP], &lt;s&gt;, &lt;/s&gt;), else 0.</summary>
    public IReadOnlyList<int> SpecialTokensMask { get; }

    /// <summary>The number of tokens.</summary>
    public int Count => Ids.Count;

    /// <summary>Whether truncation removed tokens.</summary>
    public bool Truncated => TruncatedTokenCount > 0;

    /// <summary>How many tokens truncation removed (both texts of a pair together).</summary>
    public int TruncatedTokenCount { get; }
}

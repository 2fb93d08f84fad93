namespace TransformerEmbeddings.Tokenization;

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

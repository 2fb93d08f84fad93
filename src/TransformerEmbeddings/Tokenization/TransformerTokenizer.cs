namespace TransformerEmbeddings.Tokenization;

/// <summary>
/// A HuggingFace-exact tokenizer (tokenizers 0.23.2) for BERT WordPiece, RoBERTa byte-level BPE and XLM-RoBERTa
/// SentencePiece Unigram folders: same ids, tokens, offsets, word ids, type ids, special-token mask and sequence ids
/// as a fast tokenizer called with <c>truncation=True</c>, and the same text from <see cref="Decode"/>. Immutable and
/// thread-safe.
/// </summary>
public sealed class TransformerTokenizer
{
    private readonly INormalizer? _normalizer;
    private readonly IPreTokenizer? _preTokenizer;
    private readonly ITokenizerModel _model;
    private readonly IPostProcessor _postProcessor;
    private readonly AddedVocabulary _added;
    private readonly IDecoder? _decoder;

    internal TransformerTokenizer(INormalizer? normalizer, IPreTokenizer? preTokenizer, ITokenizerModel model,
        IPostProcessor postProcessor, AddedVocabulary added, IDecoder? decoder, TokenizerKind kind, int maxLength,
        string padToken, int padTokenId, string? maskToken, int? maskTokenId, string source, bool cleanUpTokenizationSpaces = false)
    {
        Source = source;
        CleanUpTokenizationSpaces = cleanUpTokenizationSpaces;
        _decoder = decoder;
        _normalizer = normalizer;
        _preTokenizer = preTokenizer;
        _model = model;
        _postProcessor = postProcessor;
        _added = added;
        Kind = kind;
        MaxLength = maxLength;
        PadToken = padToken;
        PadTokenId = padTokenId;
        MaskToken = maskToken;
        MaskTokenId = maskTokenId;
        VocabSize = model.VocabSize + added.Tokens.Count(t => model.TokenToId(t.Content) == null);
    }

    /// <summary>
    /// Loads the tokenizer of a HuggingFace model folder: tokenizer.json when present, else vocab.txt (WordPiece) or
    /// vocab.json + merges.txt (byte-level BPE) with tokenizer_config.json / special_tokens_map.json.
    /// </summary>
    /// <param name="folder">The model folder.</param>
    /// <param name="options">Options; null for the defaults.</param>
    /// <exception cref="TokenizerException">The files are missing, malformed or use an unsupported component.</exception>
    public static TransformerTokenizer Load(string folder, TokenizerOptions? options = null) =>
        TokenizerLoader.Load(folder, options ?? new TokenizerOptions());

    /// <summary>The default token limit (special tokens included): the option, else min(model_max_length,
    /// the positions max_position_embeddings allows: RoBERTa-family ids start after the padding index), else 512.</summary>
    public int MaxLength { get; }

    /// <summary>The padding token's id.</summary>
    public int PadTokenId { get; }

    /// <summary>The padding token.</summary>
    public string PadToken { get; }

    /// <summary>The mask token ([MASK], &lt;mask&gt;), if the tokenizer has one.</summary>
    public string? MaskToken { get; }

    /// <summary>The mask token's id, if the tokenizer has one.</summary>
    public int? MaskTokenId { get; }

    /// <summary>The vocabulary size, added tokens included (HF <c>get_vocab_size(True)</c>).</summary>
    public int VocabSize { get; }

    /// <summary>The algorithm this tokenizer runs.</summary>
    public TokenizerKind Kind { get; }

    /// <summary>The file the tokenizer was read from (tokenizer.json, vocab.txt or vocab.json), for messages.</summary>
    internal string Source { get; }

    /// <summary>
    /// Refuses a tokenizer that does not belong to a model's weights: every id it can give (its vocabulary, added tokens,
    /// the post-processor's special tokens, padding) must be a row of the word-embedding table, and every token type id a
    /// row of the token-type table. Checked when the model loads, so that a mismatched folder fails there and not at the
    /// first text holding the odd token.
    /// </summary>
    /// <exception cref="TokenizerException">An id or a type id lies outside the model's tables.</exception>
    internal void CheckFits(Configuration.EncoderConfig config)
    {
        var ids = new List<(int Id, string What)> { (_model.LargestId, $"'{_model.IdToToken(_model.LargestId)}' of its vocabulary"), (PadTokenId, $"the padding token '{PadToken}'") };
        ids.AddRange(_added.Tokens.Select(t => (t.Id, $"the added token '{t.Content}'")));
        ids.AddRange(_postProcessor.Specials.Select(s => (s.Id, $"the special token '{s.Token}' of its post-processor")));
        var (id, what) = ids.MaxBy(i => i.Id);
        if (id >= config.VocabSize)
            throw new TokenizerException($"{Source}: the tokenizer gives id {id} to {what}, but the model's word-embedding table has {config.VocabSize} rows " +
                                         "(vocab_size in config.json): this tokenizer does not belong to these weights.");
        if (config.TypeVocabSize == 0) return; // DistilBERT and MPNet ignore token types
        var type = _postProcessor.Specials.Select(s => s.TypeId).Concat(_postProcessor.SequenceTypeIds).DefaultIfEmpty(0).Max();
        if (type >= config.TypeVocabSize)
            throw new TokenizerException($"{Source}: the post-processor gives token type id {type}, but the model's token-type table has {config.TypeVocabSize} rows " +
                                         "(type_vocab_size in config.json).");
    }

    /// <summary>tokenizer_config.json's <c>clean_up_tokenization_spaces</c> (false when absent): pass it to
    /// <see cref="Decode"/> to get what transformers' <c>tokenizer.decode(ids)</c> gives for this folder.</summary>
    public bool CleanUpTokenizationSpaces { get; }

    /// <summary>
    /// The vocabulary, token → id, added tokens included (HF <c>get_vocab()</c>); a new dictionary on each call.
    /// </summary>
    public IReadOnlyDictionary<string, int> GetVocabulary()
    {
        var vocabulary = new Dictionary<string, int>(_model.VocabSize + _added.Tokens.Count, StringComparer.Ordinal);
        for (var id = 0; id < _model.VocabSize; id++)
            if (_model.IdToToken(id) is { } token)
                vocabulary[token] = id;
        foreach (var t in _added.Tokens) vocabulary[t.Content] = t.Id;
        return vocabulary;
    }

    /// <summary>The id of a token (added tokens first, then the model's vocabulary), or null.</summary>
    /// <param name="token">The token string, as the vocabulary spells it.</param>
    public int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _added.TokenToId(token, _model);
    }

    /// <summary>The token of an id (added tokens first, then the model's vocabulary), or null.</summary>
    /// <param name="id">The token id.</param>
    public string? IdToToken(int id) => _added.IdToToken(id, _model);

    /// <summary>
    /// Turns token ids back into text as HF tokenizers' <c>decode</c> does: each id becomes its token (added tokens
    /// first, then the vocabulary; unknown ids are dropped), special tokens are left out when
    /// <paramref name="skipSpecialTokens"/>, and the tokenizer's decoder joins the rest (WordPiece: "##" pieces joined
    /// and spaces before punctuation cleaned up; byte-level BPE: bytes back to UTF-8; Metaspace: ▁ back to spaces).
    /// Without a decoder the tokens are joined with spaces. With <paramref name="cleanUpTokenizationSpaces"/>,
    /// transformers' <c>clean_up_tokenization</c> follows (" ." → ".", " n't" → "n't", ...), as transformers' <c>decode</c>
    /// does when the folder says so (<see cref="CleanUpTokenizationSpaces"/>).
    /// </summary>
    /// <param name="ids">The token ids.</param>
    /// <param name="skipSpecialTokens">Whether special tokens (&lt;s&gt;, [CLS], &lt;pad&gt; ...) are left out.</param>
    /// <param name="cleanUpTokenizationSpaces">Whether spaces before punctuation and contractions are removed afterwards.</param>
    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true, bool cleanUpTokenizationSpaces = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>(ids.Count);
        foreach (var id in ids)
        {
            var token = _added.IdToToken(id, _model);
            if (token == null || (skipSpecialTokens && _added.IsSpecial(token))) continue;
            tokens.Add(token);
        }

        var text = _decoder == null ? string.Join(' ', tokens) : string.Concat(_decoder.DecodeChain(tokens));
        return cleanUpTokenizationSpaces ? WordPieceDecoder.Cleanup(text, doNot: false) : text; // transformers' clean_up_tokenization
    }

    /// <summary>Encodes one text, truncated to <paramref name="maxLength"/> (default <see cref="MaxLength"/>).</summary>
    /// <param name="text">The text; any string is valid.</param>
    /// <param name="maxLength">The token limit, special tokens included; null for <see cref="MaxLength"/>.</param>
    /// <param name="addSpecialTokens">Whether the post-processor adds [CLS]/[SEP] or &lt;s&gt;/&lt;/s&gt; (HF <c>add_special_tokens</c>).</param>
    public TokenizedText Encode(string text, int? maxLength = null, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        return EncodeCore(text, null, maxLength, addSpecialTokens);
    }

    /// <summary>Encodes a text pair with special tokens, truncated longest-first to <paramref name="maxLength"/>.</summary>
    /// <param name="text">The first text.</param>
    /// <param name="pair">The second text.</param>
    /// <param name="maxLength">The token limit, special tokens included; null for <see cref="MaxLength"/>.</param>
    public TokenizedText Encode(string text, string pair, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(pair);
        return EncodeCore(text, pair, maxLength);
    }

    /// <summary>Encodes texts in parallel; results are in input order.</summary>
    /// <param name="texts">The texts.</param>
    /// <param name="maxLength">The token limit, special tokens included; null for <see cref="MaxLength"/>.</param>
    public IReadOnlyList<TokenizedText> EncodeBatch(IReadOnlyList<string> texts, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var results = new TokenizedText[texts.Count];
        Parallel.For(0, texts.Count, i => results[i] = Encode(texts[i], maxLength));
        return results;
    }

    /// <summary>Encodes text pairs in parallel; results are in input order.</summary>
    /// <param name="pairs">The text pairs.</param>
    /// <param name="maxLength">The token limit, special tokens included; null for <see cref="MaxLength"/>.</param>
    public IReadOnlyList<TokenizedText> EncodeBatch(IReadOnlyList<(string Text, string Pair)> pairs, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var results = new TokenizedText[pairs.Count];
        Parallel.For(0, pairs.Count, i => results[i] = Encode(pairs[i].Text, pairs[i].Pair, maxLength));
        return results;
    }

    private TokenizedText EncodeCore(string text, string? pair, int? maxLength, bool addSpecialTokens = true)
    {
        var limit = maxLength ?? MaxLength;
        var added = addSpecialTokens ? _postProcessor.AddedTokens(pair != null) : 0;
        if (limit < added)
            throw new ArgumentOutOfRangeException(nameof(maxLength), limit,
                $"The limit must leave room for the {added} special tokens this tokenizer adds.");

        var scratch = t_scratch ??= new Scratch();
        var a = scratch.A;
        a.Clear();
        EncodeSequence(text, a, scratch);
        SequenceEncoding? b = null;
        if (pair != null)
        {
            b = scratch.B;
            b.Clear();
            EncodeSequence(pair, b, scratch);
        }

        var truncated = Truncate(a, b, limit - added, limit);
        var result = _postProcessor.Process(a, b, truncated, addSpecialTokens);
        if (a.Ids.Capacity > MaxScratchChars || scratch.B.Ids.Capacity > MaxScratchChars) t_scratch = null;
        return result;
    }

    /// <summary>
    /// HF <c>truncate_encodings</c>, longest_first, right, stride 0. With truncation on, tokenizers 0.23 stops
    /// tokenizing a sequence at the first word boundary where it holds at least the full limit
    /// (<paramref name="wordCap"/>, special tokens included), so longest_first compares those capped lengths; this
    /// reproduces that while still counting every token that was cut.
    /// </summary>
    internal static int Truncate(SequenceEncoding a, SequenceEncoding? b, int maxLength, int wordCap)
    {
        if (b == null) return a.Truncate(maxLength);
        if (maxLength == 0) return a.Truncate(0) + b.Truncate(0);
        int n1 = CappedLength(a, wordCap), n2 = CappedLength(b, wordCap);
        if (n1 + n2 <= maxLength) return 0;

        var swap = false;
        if (n1 > n2)
        {
            swap = true;
            (n1, n2) = (n2, n1);
        }

        n2 = n1 > maxLength ? n1 : Math.Max(n1, maxLength - n1);
        if (n1 + n2 > maxLength)
        {
            n1 = maxLength / 2;
            n2 = n1 + maxLength % 2;
        }

        if (swap) (n1, n2) = (n2, n1);
        return a.Truncate(n1) + b.Truncate(n2);
    }

    /// <summary>The number of tokens up to the first word end at which at least <paramref name="cap"/> tokens are held.</summary>
    internal static int CappedLength(SequenceEncoding e, int cap)
    {
        for (var i = 0; i < e.Count; i++)
        {
            if (i + 1 >= cap && (i + 1 == e.Count || e.WordIds[i + 1] != e.WordIds[i])) return i + 1;
        }

        return e.Count;
    }

    /// <summary>Per-thread working lists (Encode runs nothing re-entrant, so one set per thread is enough).</summary>
    private sealed class Scratch
    {
        public readonly SequenceEncoding A = new();
        public readonly SequenceEncoding B = new();
        public readonly List<AddedVocabulary.Piece> Pieces = [];
        public readonly List<AddedVocabulary.Piece> RawPieces = [];
        public readonly List<WordRange> Words = [];
        public readonly List<ModelToken> Tokens = [];
        public readonly List<NChar> Chars = [];
    }

    [ThreadStatic]
    private static Scratch? t_scratch;

    /// <summary>Normalizes, pre-tokenizes and runs the model over one sequence (HF <c>encode_single_sequence</c>).</summary>
    internal SequenceEncoding EncodeSequence(string text)
    {
        var encoding = new SequenceEncoding();
        EncodeSequence(text, encoding, new Scratch());
        return encoding;
    }

    private void EncodeSequence(string text, SequenceEncoding encoding, Scratch scratch)
    {
        var pieces = scratch.Pieces;
        var words = scratch.Words;
        var tokens = scratch.Tokens;
        var wordIndex = 0;
        pieces.Clear();
        _added.ExtractAndNormalize(text, _normalizer, pieces, scratch.RawPieces, scratch.Chars);
        foreach (var piece in pieces)
        {
            if (piece.Token != null)
            {
                encoding.Ids.Add(piece.Token.Id);
                encoding.Tokens.Add(piece.Value!);
                encoding.Offsets.Add(new TokenOffset(piece.Chars[0].Start, piece.Chars[^1].End));
                encoding.WordIds.Add(wordIndex++);
                continue;
            }

            words.Clear();
            var chars = piece.Chars;
            if (_preTokenizer != null) chars = _preTokenizer.Split(chars, words);
            else words.Add(new WordRange(0, chars.Count));
            var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(chars);
            foreach (var range in words)
            {
                var word = span[range.Start..range.End];
                tokens.Clear();
                _model.Tokenize(word, tokens);
                foreach (var t in tokens)
                {
                    encoding.Ids.Add(t.Id);
                    encoding.Tokens.Add(t.Value);
                    encoding.Offsets.Add(new TokenOffset(word[t.Start].Start, word[t.End - 1].End));
                    encoding.WordIds.Add(wordIndex);
                }

                wordIndex++;
            }
        }

        pieces.Clear();
        scratch.RawPieces.Clear();
        scratch.Chars.Clear();
        // Do not keep a huge text's buffers alive on the thread.
        if (scratch.Chars.Capacity > MaxScratchChars) scratch.Chars.TrimExcess();
    }

    private const int MaxScratchChars = 1 << 16;
}

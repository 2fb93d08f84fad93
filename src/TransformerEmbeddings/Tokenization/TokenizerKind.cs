namespace TransformerEmbeddings.Tokenization;

/// <summary>Which tokenization algorithm a <see cref="TransformerTokenizer"/> runs.</summary>
public enum TokenizerKind
{
    /// <summary>BERT's WordPiece (BertNormalizer, BertPreTokenizer, greedy longest-match-first sub-words).</summary>
    WordPiece,

    /// <summary>GPT-2/RoBERTa byte-level BPE (ByteLevel pre-tokenizer, BPE merges over UTF-8 bytes).</summary>
    ByteLevelBpe,

    /// <summary>SentencePiece Unigram as XLM-RoBERTa uses it (Precompiled charsmap normalizer, Metaspace, Viterbi over scored pieces).</summary>
    Unigram,
}

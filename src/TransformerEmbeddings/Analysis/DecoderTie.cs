namespace TransformerEmbeddings.Analysis;

/// <summary>Whether a checkpoint's masked-language-model decoder is the word-embedding matrix itself (HF <c>tie_word_embeddings</c>).</summary>
/// <param name="HasHead">Whether the checkpoint carries an MLM head at all.</param>
/// <param name="Tied">True when the decoder weight is omitted (HF then ties it) or stored equal to the word embeddings.</param>
/// <param name="DecoderKey">The stored decoder weight's name, or null when the checkpoint omits it.</param>
/// <param name="Reason">What was found, in words.</param>
public sealed record DecoderTie(bool HasHead, bool Tied, string? DecoderKey, string Reason);

namespace TransformerEmbeddings.Tokenization;

/// <summary>
/// One code point of a normalized string and the span of the ORIGINAL text (UTF-16 units) it aligns to. This is
/// HF's NormalizedString alignment at code-point granularity (HF keeps it per byte, but every byte of a char always
/// carries the same alignment, so nothing is lost).
/// </summary>
internal readonly record struct NChar(int Cp, int Start, int End);

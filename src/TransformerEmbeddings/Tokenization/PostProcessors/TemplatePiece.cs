namespace TransformerEmbeddings.Tokenization;

/// <summary>One piece of a <c>TemplateProcessing</c> template.</summary>
internal readonly record struct TemplatePiece(bool IsSequence, int SequenceIndex, string[] SpecialTokens, int[] SpecialIds, int TypeId);

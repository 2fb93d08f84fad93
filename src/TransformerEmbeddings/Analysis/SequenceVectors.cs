namespace TransformerEmbeddings.Analysis;

/// <summary>Which of a sequence's own per-head vectors a token's encoding is compared with.</summary>
public enum SequenceVectors
{
    /// <summary>The other tokens' encodings at the same layer (<c>attentions @ value</c>, TransformerLens <c>hook_z</c>); the token itself is left out.</summary>
    Contexts,

    /// <summary>Every token's value vector at the same layer (what the encodings mix; <c>hook_v</c>); the token's own value included.</summary>
    Values,
}

namespace TransformerEmbeddings.Kernels;

/// <summary>Where a linear layer sits in the encoder, as far as its kernel cares: the fast mode gives the attention
/// output projection 8 bits (<see cref="Gemm.Qgemm.ByteLevels"/>) and every other layer 12.</summary>
internal enum LinearRole
{
    /// <summary>Any layer without a role of its own (feed-forward, pooler, heads).</summary>
    Other,

    /// <summary>The projection of the merged heads back to the hidden size (BERT's <c>attention.output.dense</c>).</summary>
    AttentionOutput,
}

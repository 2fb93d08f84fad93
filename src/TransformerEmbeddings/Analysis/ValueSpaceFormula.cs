namespace TransformerEmbeddings.Analysis;

/// <summary>
/// The terms of the vocabulary-in-value-space formula. <see cref="Correct"/> is the one the library uses; each switch
/// reproduces one mistake of the published "Attention Encodings" code, so tests can show the mistake changes the answer.
/// </summary>
internal sealed record ValueSpaceFormula
{
    /// <summary>The formula of the definition: <c>LayerNorm(E[id] + P[pos] + T[0]) Wᵀ + b</c> with the layer's own weights.</summary>
    public static ValueSpaceFormula Correct { get; } = new();

    /// <summary>Multiply by the value weight's transpose (<c>x Wᵀ</c>, as <c>nn.Linear</c>); false multiplies by W itself.</summary>
    public bool TransposeWeight { get; init; } = true;

    /// <summary>Add the value bias.</summary>
    public bool ValueBias { get; init; } = true;

    /// <summary>Add the token-type embedding 0 (RoBERTa has one too, though it has a single type).</summary>
    public bool TokenType { get; init; } = true;

    /// <summary>Use this block's value weights for every layer instead of the layer's own; null for the layer's own.</summary>
    public int? WeightsOfLayer { get; init; }
}

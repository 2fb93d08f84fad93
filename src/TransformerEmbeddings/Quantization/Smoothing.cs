namespace TransformerEmbeddings.Quantization;

/// <summary>
/// Data-free SmoothQuant factors for a linear layer whose input is a LayerNorm output <c>x = γ ⊙ n + β</c> (BERT's
/// query/key/value and feed-forward up-projection). Each input channel's activation magnitude is estimated from the
/// weights alone as <c>a_j = |γ_j| · r_j + |β_j|</c>, where <c>r_j</c> (<see cref="ResidualMagnitudes"/>) is how large
/// the normalised residual stream gets in channel j; the factor is <c>s_j = a_j^α / max_i |W_ij|^(1−α)</c> and
/// <see cref="QuantizedLinear.FromWeights(ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, QuantizationScheme?)"/>
/// applies it (weights × s, activations ÷ s).
/// </summary>
/// <remarks>
/// A constant <c>r_j = c</c> (the textbook γ/β estimate) misses BERT's outlier dimensions: in all-MiniLM-L6-v2 the
/// normalised residual reaches ≈ 19 in channel 99 in every layer while |γ₉₉| is unremarkable, and smoothing with
/// <c>c = 3</c> made quantisation slightly worse. Those outlier dimensions are already present in the embedding tables,
/// so <see cref="ResidualMagnitudes"/> reads them there (channel 99: 14.7, median channel 3.8).
/// Measured on STS-b dev (3000 sentences, <see cref="QuantizationScheme.ReducedWeights"/>, min sentence cosine to fp32):
/// up-projections alone 0.99739 → 0.99887 with these factors, query/key/value alone 0.99622 → 0.99822; neither reaches
/// 0.999, so the fast-mode recipe quantises only the attention-output linears (0.99976) and these factors are the tool
/// for the next step (the weights' 7 bits, not the activations, then dominate the remaining error).
/// </remarks>
internal static class Smoothing
{
    /// <summary>The migration strength α used by the int8 recipe.</summary>
    public const float DefaultAlpha = 0.5f;

    /// <summary>The number of position rows the embedding probe cycles through (short sentences use the first ones).</summary>
    public const int ProbePositions = 128;

    private const float Floor = 1e-5f;

    /// <summary>
    /// Per channel, the largest |value| of the normalised (no γ/β) embedding sum <c>E[v] + P[v mod p] + T[0]</c> over
    /// every vocabulary row v: a weights-only estimate of how far each channel of the normalised residual stream reaches.
    /// </summary>
    /// <param name="wordEmbeddings">The (V × H) word-embedding table, row-major.</param>
    /// <param name="positionEmbeddings">The position-embedding table, row-major, at least <paramref name="positions"/> rows of H.</param>
    /// <param name="tokenType">The H values of the first token-type row (zeros where the model has none).</param>
    /// <param name="hidden">H.</param>
    /// <param name="positions">How many position rows to cycle through (default <see cref="ProbePositions"/>).</param>
    /// <param name="eps">The embedding LayerNorm's epsilon.</param>
    /// <returns>H magnitudes.</returns>
    public static float[] ResidualMagnitudes(ReadOnlySpan<float> wordEmbeddings, ReadOnlySpan<float> positionEmbeddings,
        ReadOnlySpan<float> tokenType, int hidden, int positions = ProbePositions, double eps = 1e-12)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hidden);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(positions);
        if (wordEmbeddings.Length == 0 || wordEmbeddings.Length % hidden != 0)
            throw new ArgumentException($"Expected whole rows of {hidden} values.", nameof(wordEmbeddings));
        if (positionEmbeddings.Length < (long)positions * hidden)
            throw new ArgumentException($"Expected at least {positions} position rows.", nameof(positionEmbeddings));
        if (tokenType.Length != hidden) throw new ArgumentException($"Expected {hidden} token-type values.", nameof(tokenType));
        int vocab = wordEmbeddings.Length / hidden;
        var r = new float[hidden];
        var row = new double[hidden];
        for (int v = 0; v < vocab; v++)
        {
            var e = wordEmbeddings.Slice(v * hidden, hidden);
            var p = positionEmbeddings.Slice(v % positions * hidden, hidden);
            double mean = 0;
            for (int j = 0; j < hidden; j++)
            {
                row[j] = (double)e[j] + p[j] + tokenType[j];
                mean += row[j];
            }
            mean /= hidden;
            double variance = 0;
            for (int j = 0; j < hidden; j++) variance += (row[j] - mean) * (row[j] - mean);
            double inverse = 1 / Math.Sqrt(variance / hidden + eps);
            for (int j = 0; j < hidden; j++) r[j] = MathF.Max(r[j], (float)Math.Abs((row[j] - mean) * inverse));
        }
        return r;
    }

    /// <summary>
    /// The factors <c>s_j = a_j^α / max_i |W_ij|^(1−α)</c> with <c>a_j = |γ_j| · r_j + |β_j|</c> for a linear layer fed
    /// by the LayerNorm (γ, β).
    /// </summary>
    /// <param name="weight">The (N × K) weight, row-major (for query/key/value: the three stacked, 3H × H).</param>
    /// <param name="outFeatures">N.</param>
    /// <param name="inFeatures">K.</param>
    /// <param name="gamma">The preceding LayerNorm's K weights.</param>
    /// <param name="beta">The preceding LayerNorm's K biases.</param>
    /// <param name="residual">K magnitudes of the normalised input (<see cref="ResidualMagnitudes"/>).</param>
    /// <param name="alpha">The migration strength α in [0, 1] (default <see cref="DefaultAlpha"/>).</param>
    /// <returns>K positive factors.</returns>
    public static float[] ForLayerNormInput(ReadOnlySpan<float> weight, int outFeatures, int inFeatures, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> beta, ReadOnlySpan<float> residual, float alpha = DefaultAlpha)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        if (weight.Length != (long)outFeatures * inFeatures)
            throw new ArgumentException($"Expected {outFeatures} × {inFeatures} weights, got {weight.Length}.", nameof(weight));
        if (gamma.Length != inFeatures || beta.Length != inFeatures || residual.Length != inFeatures)
            throw new ArgumentException($"Expected {inFeatures} values of γ, β and residual magnitude.");
        if (!(alpha >= 0 && alpha <= 1)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "α must lie in [0, 1].");
        var columnMax = new float[inFeatures];
        for (int n = 0; n < outFeatures; n++)
        {
            var row = weight.Slice(n * inFeatures, inFeatures);
            for (int j = 0; j < inFeatures; j++) columnMax[j] = MathF.Max(columnMax[j], MathF.Abs(row[j]));
        }
        var s = new float[inFeatures];
        for (int j = 0; j < inFeatures; j++)
        {
            double a = Math.Max(Math.Abs(gamma[j]) * residual[j] + Math.Abs(beta[j]), Floor);
            double w = Math.Max(columnMax[j], Floor);
            double f = Math.Pow(a, alpha) / Math.Pow(w, 1 - alpha);
            if (!double.IsFinite(f) || !(f > 0)) throw new ArgumentException($"Non-finite smoothing factor for input {j}.");
            s[j] = (float)f;
        }
        return s;
    }
}

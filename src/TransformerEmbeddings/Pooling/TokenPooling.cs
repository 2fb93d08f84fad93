namespace TransformerEmbeddings.Pooling;

/// <summary>How a sentence's token vectors become one vector (padding never contributes).</summary>
public enum TokenPooling
{
    /// <summary><c>cls</c>: the first token (the first one left when special tokens are excluded).</summary>
    Cls,

    /// <summary><c>mean</c>: the mask-weighted mean, denominator clamped at 1e-9.</summary>
    Mean,

    /// <summary><c>max</c>: the per-dimension maximum over tokens (padding set to -1e9 first).</summary>
    Max,

    /// <summary><c>mean_sqrt_len_tokens</c>: the masked sum divided by the square root of the token count.</summary>
    MeanSqrtLength,

    /// <summary><c>weightedmean</c>: token t (0-based position in the padded row) weighted by t + 1.</summary>
    WeightedMean,

    /// <summary><c>lasttoken</c>: the last token that takes part.</summary>
    LastToken,
}

/// <summary>How the sub-word tokens of one word become the word's vector (flair's <c>subtoken_pooling</c>).</summary>
internal enum SubwordPooling
{
    /// <summary>The first sub-word.</summary>
    First,

    /// <summary>The last sub-word.</summary>
    Last,

    /// <summary>The first and the last sub-word, concatenated (2D).</summary>
    FirstLast,

    /// <summary>The mean of the sub-words.</summary>
    Mean,
}

namespace TransformerEmbeddings.Pooling;

/// <summary>
/// One or more token poolings whose results are concatenated in the order given, parsed from the names
/// sentence-transformers uses: <c>cls</c>, <c>mean</c>, <c>max</c>, <c>mean_sqrt_len_tokens</c>, <c>weightedmean</c>,
/// <c>lasttoken</c>, joined with <c>+</c> (<c>cls+mean</c>). Used by <c>te embed --pooling</c>.
/// </summary>
public sealed class PoolingStrategy : IEquatable<PoolingStrategy>
{
    private static readonly Dictionary<string, TokenPooling> Names = new(StringComparer.OrdinalIgnoreCase)
    {
        ["cls"] = TokenPooling.Cls,
        ["cls_token"] = TokenPooling.Cls,
        ["mean"] = TokenPooling.Mean,
        ["mean_tokens"] = TokenPooling.Mean,
        ["max"] = TokenPooling.Max,
        ["max_tokens"] = TokenPooling.Max,
        ["mean_sqrt_len_tokens"] = TokenPooling.MeanSqrtLength,
        ["mean_sqrt_len"] = TokenPooling.MeanSqrtLength,
        ["weightedmean"] = TokenPooling.WeightedMean,
        ["weightedmean_tokens"] = TokenPooling.WeightedMean,
        ["lasttoken"] = TokenPooling.LastToken,
        ["last_token"] = TokenPooling.LastToken,
    };

    /// <summary>Creates a strategy from poolings, concatenated in this order.</summary>
    /// <param name="modes">At least one pooling, each at most once.</param>
    /// <exception cref="ArgumentException">None given, or one repeated.</exception>
    public PoolingStrategy(params TokenPooling[] modes)
    {
        ArgumentNullException.ThrowIfNull(modes);
        if (modes.Length == 0) throw new ArgumentException("A pooling strategy needs at least one mode.", nameof(modes));
        if (modes.Distinct().Count() != modes.Length)
            throw new ArgumentException($"A pooling mode appears twice in '{string.Join('+', modes.Select(NameOf))}'.", nameof(modes));
        foreach (var m in modes)
        {
            if (!Enum.IsDefined(m)) throw new ArgumentOutOfRangeException(nameof(modes), m, "Unknown token pooling.");
        }
        Modes = modes.ToArray();
    }

    /// <summary>Mean pooling, the usual default.</summary>
    public static PoolingStrategy Mean { get; } = new(TokenPooling.Mean);

    /// <summary>The poolings, in concatenation order.</summary>
    public IReadOnlyList<TokenPooling> Modes { get; }

    /// <summary>The supported names, for help texts.</summary>
    public static IReadOnlyList<string> SupportedNames { get; } = ["cls", "mean", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"];

    /// <summary>The sentence-transformers name of a pooling (<c>cls</c>, <c>mean</c>, <c>max</c>, <c>mean_sqrt_len_tokens</c>, <c>weightedmean</c>, <c>lasttoken</c>).</summary>
    /// <param name="mode">The pooling.</param>
    /// <returns>Its name.</returns>
    public static string NameOf(TokenPooling mode) => mode switch
    {
        TokenPooling.Cls => "cls",
        TokenPooling.Mean => "mean",
        TokenPooling.Max => "max",
        TokenPooling.MeanSqrtLength => "mean_sqrt_len_tokens",
        TokenPooling.WeightedMean => "weightedmean",
        TokenPooling.LastToken => "lasttoken",
        _ => mode.ToString(),
    };

    /// <summary>Parses <c>cls</c>, <c>mean</c>, ... or a <c>+</c>-joined combination such as <c>cls+mean</c> (case-insensitive).</summary>
    /// <param name="text">The text.</param>
    /// <returns>The strategy.</returns>
    /// <exception cref="ArgumentException">A name is unknown or repeated; the message lists the supported names (as <c>Enum.Parse</c>).</exception>
    public static PoolingStrategy Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var s, out var error) ? s : throw new ArgumentException(error, nameof(text));
    }

    /// <summary>Parses like <see cref="Parse"/> without throwing.</summary>
    /// <param name="text">The text.</param>
    /// <param name="strategy">The strategy, when the text is valid.</param>
    /// <returns>Whether the text is valid.</returns>
    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PoolingStrategy? strategy) =>
        TryParse(text, out strategy, out _);

    private static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PoolingStrategy? strategy, out string error)
    {
        strategy = null;
        error = "";
        var parts = (text ?? "").Split('+', StringSplitOptions.TrimEntries);
        var modes = new List<TokenPooling>();
        foreach (var p in parts)
        {
            if (!Names.TryGetValue(p.StartsWith("pooling_mode_", StringComparison.OrdinalIgnoreCase) ? p["pooling_mode_".Length..] : p, out var m))
            {
                error = $"Unknown pooling '{p}' in '{text}'; use one of {string.Join(", ", SupportedNames)}, or several joined with '+' (cls+mean).";
                return false;
            }
            if (modes.Contains(m))
            {
                error = $"Pooling '{p}' appears twice in '{text}'.";
                return false;
            }
            modes.Add(m);
        }
        strategy = new PoolingStrategy(modes.ToArray());
        return true;
    }

    /// <summary>The canonical text, e.g. <c>cls+mean</c>; <see cref="Parse"/> reads it back.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => string.Join('+', Modes.Select(NameOf));

    /// <summary>Same poolings in the same order.</summary>
    /// <param name="other">Another strategy.</param>
    /// <returns>Whether they are equal.</returns>
    public bool Equals(PoolingStrategy? other) => other is not null && Modes.SequenceEqual(other.Modes);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as PoolingStrategy);

    /// <inheritdoc/>
    public override int GetHashCode() => ToString().GetHashCode(StringComparison.Ordinal);
}

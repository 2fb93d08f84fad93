namespace TransformerEmbeddings.Weights;

/// <summary>
/// A safetensors file broke one of the format's rules, a requested tensor is missing, or a file could not be read or
/// written. The message names the file, the tensor where there is one, and the expected and actual values.
/// </summary>
public sealed class SafeTensorsException : TransformerEmbeddingsException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="filePath">The file being read or written.</param>
    /// <param name="kind">Which rule was broken.</param>
    /// <param name="tensorName">The tensor concerned, if any.</param>
    /// <param name="detail">What was expected and what was found.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public SafeTensorsException(
        string filePath,
        SafeTensorsErrorKind kind,
        string? tensorName,
        string detail,
        Exception? innerException = null)
        : base(Format(filePath, kind, tensorName, detail), innerException)
    {
        FilePath = filePath;
        Kind = kind;
        TensorName = tensorName;
    }

    /// <summary>The file being read or written.</summary>
    public string FilePath { get; }

    /// <summary>Which rule was broken.</summary>
    public SafeTensorsErrorKind Kind { get; }

    /// <summary>The tensor concerned, or null when the error is not about one tensor.</summary>
    public string? TensorName { get; }

    private static string Format(string filePath, SafeTensorsErrorKind kind, string? tensorName, string detail)
    {
        var tensor = tensorName is null ? "" : $", tensor '{Shorten(tensorName)}'";
        return $"safetensors file '{filePath}'{tensor}: {detail} [{kind}]";
    }

    /// <summary>Keeps hostile names from making huge messages.</summary>
    internal static string Shorten(string text) => text.Length <= 200 ? text : string.Concat(text.AsSpan(0, 200), "…");
}

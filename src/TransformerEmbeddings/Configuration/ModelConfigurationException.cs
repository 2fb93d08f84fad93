namespace TransformerEmbeddings.Configuration;

/// <summary>A <c>config.json</c> (or another model-folder file) is missing, malformed or describes an unsupported model.</summary>
public sealed class ModelConfigurationException : TransformerEmbeddingsException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="filePath">The file at fault.</param>
    /// <param name="field">The JSON field at fault, if one.</param>
    /// <param name="message">What is wrong, with the expected and actual values.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public ModelConfigurationException(string filePath, string? field, string message, Exception? innerException = null)
        : base($"{filePath}{(field is null ? "" : $": field '{field}'")}: {message}", innerException)
    {
        FilePath = filePath;
        Field = field;
    }

    /// <summary>The file at fault.</summary>
    public string FilePath { get; }

    /// <summary>The JSON field at fault, if one.</summary>
    public string? Field { get; }
}

namespace TransformerEmbeddings.Hub;

/// <summary>
/// A model id could not be resolved to a folder: the Hub refused or failed, the cache lacks a file in offline mode, or a
/// download could not be stored. The message says what to do (check the id, set a token, go offline, free disk space).
/// </summary>
public sealed class HubException : TransformerEmbeddingsException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="kind">What went wrong.</param>
    /// <param name="model">The model id as given (with any revision), or null when the error is not about one model.</param>
    /// <param name="file">The file concerned (a repository path such as <c>1_Pooling/config.json</c>), if any.</param>
    /// <param name="message">What went wrong and what to do about it.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public HubException(HubErrorKind kind, string? model, string? file, string message, Exception? innerException = null)
        : base($"{message} [{kind}]", innerException)
    {
        Kind = kind;
        Model = model;
        File = file;
    }

    /// <summary>What went wrong.</summary>
    public HubErrorKind Kind { get; }

    /// <summary>The model id as given, or null.</summary>
    public string? Model { get; }

    /// <summary>The repository file concerned, or null.</summary>
    public string? File { get; }
}

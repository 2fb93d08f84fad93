namespace TransformerEmbeddings;

/// <summary>
/// Base type of every error the library raises on purpose: bad files, bad input, a missing native runtime.
/// Catch this to handle all of them; the derived types say which stage failed.
/// </summary>
public class TransformerEmbeddingsException : Exception
{
    /// <summary>Creates the exception with a message a user can act on.</summary>
    /// <param name="message">What went wrong, naming the file, field or tensor, and the expected and actual values.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public TransformerEmbeddingsException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

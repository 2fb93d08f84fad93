namespace TransformerEmbeddings.Tokenization;

/// <summary>A tokenizer file is missing, malformed, or uses a component this library does not implement.</summary>
public sealed class TokenizerException : TransformerEmbeddingsException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong, naming the file and the component or field.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public TokenizerException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

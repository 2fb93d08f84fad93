namespace TransformerEmbeddings.Weights;

/// <summary>A checkpoint lacks a tensor the model needs, or holds one of the wrong shape or type.</summary>
public sealed class WeightLoadingException : TransformerEmbeddingsException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="filePath">The checkpoint file (or folder) at fault.</param>
    /// <param name="tensorName">The tensor at fault, as named in the checkpoint (or as expected).</param>
    /// <param name="message">What is wrong, with expected and actual values.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public WeightLoadingException(string filePath, string? tensorName, string message, Exception? innerException = null)
        : base($"{filePath}{(tensorName is null ? "" : $": tensor '{tensorName}'")}: {message}", innerException)
    {
        FilePath = filePath;
        TensorName = tensorName;
    }

    /// <summary>The checkpoint file (or folder) at fault.</summary>
    public string FilePath { get; }

    /// <summary>The tensor at fault, if one.</summary>
    public string? TensorName { get; }
}

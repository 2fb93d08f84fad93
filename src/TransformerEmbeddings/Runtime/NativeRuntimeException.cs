namespace TransformerEmbeddings.Runtime;

/// <summary>TorchSharp's native runtime (libtorch and LibTorchSharp) is missing or cannot be loaded.</summary>
public sealed class NativeRuntimeException : TransformerEmbeddingsException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is missing and how to fix it.</param>
    /// <param name="innerException">The loader's own error.</param>
    public NativeRuntimeException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

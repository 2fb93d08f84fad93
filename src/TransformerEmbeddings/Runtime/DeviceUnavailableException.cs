namespace TransformerEmbeddings.Runtime;

/// <summary>A device was asked for (such as <c>cuda</c>) that this process cannot use.</summary>
public sealed class DeviceUnavailableException : TransformerEmbeddingsException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Which device was asked for and why it cannot be used.</param>
    public DeviceUnavailableException(string message)
        : base(message)
    {
    }
}

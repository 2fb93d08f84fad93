namespace TransformerEmbeddings.Cli;

/// <summary>A usage or input error of the <c>te</c> tool: printed as one line, exit code 1.</summary>
internal sealed class CliException(string message) : Exception(message);

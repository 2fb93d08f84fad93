using TransformerEmbeddings.Runtime;

namespace TransformerEmbeddings.Cli.Commands;

/// <summary>Runs a command body and turns every expected failure into one line on stderr and exit code 1.</summary>
internal static class CommandRunner
{
    public static int Run(Func<int> body, bool needsRuntime = true)
    {
        try
        {
            if (needsRuntime) NativeRuntime.EnsureLoaded();
            return body();
        }
        catch (Exception e) when (e is TransformerEmbeddingsException or CliException or IOException or UnauthorizedAccessException
                                       or ArgumentException or InvalidOperationException or KeyNotFoundException)
        {
            Console.Error.WriteLine($"te: error: {OneLine(e.Message)}");
            return 1;
        }
    }

    private static string OneLine(string s) => s.Replace('\r', ' ').Replace('\n', ' ');
}

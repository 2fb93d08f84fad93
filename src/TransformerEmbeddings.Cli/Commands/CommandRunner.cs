using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Runtime;
using TransformerEmbeddings.Tokenization;
using TransformerEmbeddings.Weights;

namespace TransformerEmbeddings.Cli.Commands;

/// <summary>
/// Runs a command body and turns every expected failure into one line on stderr and an exit code:
/// 0 done, 1 bad input or usage, 2 the model cannot be loaded or run, 3 the output cannot be written, 130 interrupted.
/// </summary>
internal static class CommandRunner
{
    public const int BadInput = 1;
    public const int ModelError = 2;
    public const int OutputError = 3;

    /// <param name="body">The command.</param>
    /// <param name="needsRuntime">Load libtorch before the body (for bodies that use torch before loading a model; loading a model waits for it by itself).</param>
    public static int Run(Func<int> body, bool needsRuntime = true)
    {
        try
        {
            if (needsRuntime) NativeRuntime.EnsureLoaded();
            return body();
        }
        catch (Exception e) when (e is ModelConfigurationException or WeightLoadingException or SafeTensorsException or TokenizerException
                                       or NativeRuntimeException or DeviceUnavailableException or Hub.HubException)
        {
            return Fail(e, ModelError);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(e, e is FileNotFoundException or DirectoryNotFoundException ? BadInput : OutputError);
        }
        catch (Exception e) when (e is TransformerEmbeddingsException or CliException or ArgumentException)
        {
            return Fail(e, BadInput);
        }
    }

    private static int Fail(Exception e, int code)
    {
        Console.Error.WriteLine($"te: error: {OneLine(e.Message)}");
        return code;
    }

    private static string OneLine(string s) => s.Replace('\r', ' ').Replace('\n', ' ');
}

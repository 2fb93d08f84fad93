using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Runtime;
using TransformerEmbeddings.Tokenization;
using TransformerEmbeddings.Weights;

namespace TransformerEmbeddings.Cli.Commands;

/// <summary>
/// Runs a command body and turns every expected failure into one line on stderr and an exit code:
/// 0 done, 1 bad input or usage, 2 the model cannot be loaded or run, 3 the output cannot be written, 4 an unexpected
/// failure (a bug to report: the line names the exception), 130 interrupted. No stack trace reaches the user.
/// </summary>
internal static class CommandRunner
{
    public const int BadInput = 1;
    public const int ModelError = 2;
    public const int OutputError = 3;
    public const int Unexpected = 4;
    public const int Interrupted = 130;

    /// <param name="body">The command.</param>
    /// <param name="needsRuntime">Load libtorch before the body (for bodies that use torch before loading a model; loading a model waits for it by itself).</param>
    public static int Run(Func<int> body, bool needsRuntime = true)
    {
        try
        {
            try
            {
                if (needsRuntime) NativeRuntime.EnsureLoaded();
                return body();
            }
            catch (AggregateException e) when (e.Flatten().InnerExceptions is [var single])
            {
                // Parallel loops wrap what one text's tokenization threw: report that.
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(single);
                throw;
            }
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
        catch (System.Runtime.InteropServices.ExternalException e)
        {
            return Fail(e, ModelError); // libtorch refused (out of memory, a device error)
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("te: interrupted.");
            return Interrupted;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"te: unexpected error ({e.GetType().Name}): {OneLine(e.Message)}");
            return Unexpected;
        }
    }

    private static int Fail(Exception e, int code)
    {
        Console.Error.WriteLine($"te: error: {OneLine(e.Message)}");
        return code;
    }

    private static string OneLine(string s) => s.Replace('\r', ' ').Replace('\n', ' ');
}

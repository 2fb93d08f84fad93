using System.Reflection;

namespace TransformerEmbeddings.Tests.Infrastructure;

/// <summary>Runs the <c>te</c> tool in-process through its entry point, capturing stderr.</summary>
public static class TeRunner
{
    private static readonly Lazy<MethodInfo> Entry = new(() =>
        Assembly.Load("te").EntryPoint ?? throw new InvalidOperationException("te has no entry point"));

    private static readonly object ConsoleGate = new();

    public static (int ExitCode, string Error) Run(params string[] args)
    {
        lock (ConsoleGate)
        {
            var previous = Console.Error;
            using var error = new StringWriter();
            Console.SetError(error);
            try
            {
                var result = Entry.Value.Invoke(null, [args]);
                return (result is int code ? code : 0, error.ToString());
            }
            finally
            {
                Console.SetError(previous);
            }
        }
    }
}

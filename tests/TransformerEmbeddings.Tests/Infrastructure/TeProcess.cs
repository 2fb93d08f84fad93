using System.Diagnostics;

namespace TransformerEmbeddings.Tests.Infrastructure;

/// <summary>
/// Runs the <c>te</c> tool as its own process (from the CLI project's output, which has all its dependencies), for
/// checks that need two real processes.
/// </summary>
public static class TeProcess
{
    private static readonly Lazy<string> Dll = new(Find);

    public static async Task<(int Code, string Output, string Error)> RunAsync(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Dll.Value);
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment)
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(limit.Token);
        return (process.ExitCode, await output, await error);
    }

    // The tests' own folder lacks some of te's dependencies (ASP.NET Core's shared framework provides them there).
    private static string Find()
    {
        var bin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));   // …/bin/<Configuration>/<tfm>
        var configuration = bin.Parent!.Name;
        for (var dir = bin; dir != null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "TransformerEmbeddings.sln"))) continue;
            var dll = Path.Combine(dir.FullName, "src", "TransformerEmbeddings.Cli", "bin", configuration, bin.Name, "te.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException($"te is not built at {dll}; build the solution first.", dll);
        }
        throw new DirectoryNotFoundException($"No TransformerEmbeddings.sln above {AppContext.BaseDirectory}.");
    }
}

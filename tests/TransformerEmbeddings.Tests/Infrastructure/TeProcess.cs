using System.Diagnostics;

namespace TransformerEmbeddings.Tests.Infrastructure;

/// <summary>
/// Runs the <c>te</c> tool as its own process (from the CLI project's output, which has all its dependencies): for
/// standard input and output, for killing it, and for checks that need two real processes.
/// </summary>
public static class TeProcess
{
    private static readonly Lazy<string> Dll = new(Find);

    /// <summary>te.dll run with this test host's dotnet.</summary>
    public static ProcessStartInfo StartInfo(params string[] args)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH")
                                        ?? (Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet"))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Dll.Value);
        foreach (var a in args) info.ArgumentList.Add(a);
        return info;
    }

    /// <summary>Runs te to the end with <paramref name="stdin"/> as standard input; returns exit code, stdout and stderr.</summary>
    public static (int ExitCode, string Output, string Error) Run(string? stdin, params string[] args)
    {
        using var p = Process.Start(StartInfo(args))!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"te {string.Join(' ', args)} did not finish in 5 minutes.");
        }
        return (p.ExitCode, output.Result, error.Result);
    }

    /// <summary>Runs te to the end with these environment variables set (null removes one).</summary>
    public static async Task<(int Code, string Output, string Error)> RunAsync(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var start = StartInfo(args);
        start.RedirectStandardInput = false;
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

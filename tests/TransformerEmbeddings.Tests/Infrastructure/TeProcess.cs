using System.Diagnostics;

namespace TransformerEmbeddings.Tests.Infrastructure;

/// <summary>Runs the <c>te</c> tool as a child process (for standard input and output, and for killing it).</summary>
public static class TeProcess
{
    /// <summary>te.dll as built beside the tests (the CLI project is referenced), run with this test host's dotnet.</summary>
    public static ProcessStartInfo StartInfo(params string[] args)
    {
        var te = Path.Combine(AppContext.BaseDirectory, "te.dll");
        var info = new ProcessStartInfo(Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(te);
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
}

using System.Diagnostics;
using System.Text.Json;

namespace TransformerEmbeddings.Tests.Hub;

/// <summary>
/// Runs <c>@huggingface/hub</c> (interop/hub-interop.mjs) with node. Missing node or packages fail the test, never skip
/// it: under CI=true the packages must come from .ci/run's <c>npm ci</c>; elsewhere the first use runs <c>npm ci</c>.
/// </summary>
public static class HuggingFaceHubJs
{
    private static readonly Lazy<string> Folder = new(Prepare);

    public static async Task<JsonElement> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Folder.Value };
        start.ArgumentList.Add("hub-interop.mjs");
        foreach (var a in args) start.ArgumentList.Add(a);
        var (code, output, error) = await RunAsync(start);
        if (code != 0) throw new InvalidOperationException($"node hub-interop.mjs {string.Join(' ', args)} exited with {code}: {error}");
        using var json = JsonDocument.Parse(output);
        return json.RootElement.Clone();
    }

    private static string Prepare()
    {
        var folder = FindFolder();
        if (!Succeeds("node", "--version", folder))
            throw new InvalidOperationException("The interop test needs Node.js 18 or later on PATH (node); install it (Debian: apt-get install nodejs npm).");
        if (File.Exists(Path.Combine(folder, "node_modules", "@huggingface", "hub", "package.json"))) return folder;
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"@huggingface/hub is not installed in {folder}: .ci/run must run `npm ci` there before the tests.");
        if (!Succeeds("npm", "ci --no-audit --no-fund", folder))
            throw new InvalidOperationException($"`npm ci` failed in {folder}; run it by hand to see why (the npm registry must be reachable once).");
        return folder;
    }

    private static bool Succeeds(string program, string arguments, string folder)
    {
        try
        {
            var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = folder };
            return RunAsync(start).GetAwaiter().GetResult().Code == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;   // not installed
        }
    }

    private static async Task<(int Code, string Output, string Error)> RunAsync(ProcessStartInfo start)
    {
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(limit.Token);
        return (process.ExitCode, await output, await error);
    }

    private static string FindFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TransformerEmbeddings.sln")))
                return Path.Combine(dir.FullName, "tests", "TransformerEmbeddings.Tests", "Hub", "interop");
        }
        throw new DirectoryNotFoundException($"No TransformerEmbeddings.sln above {AppContext.BaseDirectory}.");
    }
}

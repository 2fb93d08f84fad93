using System.CommandLine;
using Spectre.Console;
using TransformerEmbeddings.Hub;

namespace TransformerEmbeddings.Cli;

/// <summary>
/// The <c>--model</c> and <c>--revision</c> options every command shares, and the one place a model id becomes a folder:
/// an existing folder as is, else the HuggingFace cache, downloading what is missing with a progress bar on a terminal.
/// </summary>
internal static class ModelSource
{
    public static Option<string> ModelOption(string what) => new("--model")
    {
        Description = $"{what}: a folder, or a HuggingFace model id (org/name[@revision]) taken from the cache shared with Python and downloaded when missing.",
        Required = true,
    };

    public static Option<string?> RevisionOption() => new("--revision")
    {
        Description = "For a model id: a branch, tag or commit sha (default main). HF_HUB_OFFLINE=1 uses the cache only.",
    };

    /// <summary>The folder to load for the command's <c>--model</c> and <c>--revision</c>.</summary>
    public static string Resolve(ParseResult parse, Option<string> model, Option<string?> revision) =>
        WithProgress(progress => ModelHub.ResolveFolderAsync(parse.GetValue(model)!, new HubOptions { Revision = parse.GetValue(revision), Progress = progress }));

    /// <summary>Runs a download with a Spectre progress bar (bytes, speed, time left) when stderr is a terminal.</summary>
    public static string WithProgress(Func<IProgress<DownloadProgress>?, Task<string>> download)
    {
        if (Console.IsErrorRedirected) return download(null).GetAwaiter().GetResult();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(context => download(new Bar(context)))
            .GetAwaiter().GetResult();
    }

    /// <summary>One bar for the whole download, added when the first bytes are announced (a cached model shows none).</summary>
    private sealed class Bar(ProgressContext context) : IProgress<DownloadProgress>
    {
        private ProgressTask? task;

        public void Report(DownloadProgress value)
        {
            task ??= context.AddTask(value.Model, maxValue: Math.Max(1, value.TotalBytes));
            task.Description = Markup.Escape($"{value.Model} {value.File} ({Math.Min(value.FilesDone + 1, value.FileCount)}/{value.FileCount})");
            task.Value = value.Bytes;
        }
    }
}

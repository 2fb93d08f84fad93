using System.Diagnostics;
using Spectre.Console;
using TransformerEmbeddings.Pipelines;

namespace TransformerEmbeddings.Cli;

/// <summary>How <c>te embed</c> shows progress (always on stderr; stdout carries only output).</summary>
internal enum ProgressMode
{
    /// <summary>A bar when stderr is a terminal, else plain lines.</summary>
    Auto,

    /// <summary>A Spectre.Console bar: texts, tokens/s, input read, time left.</summary>
    Bar,

    /// <summary>One line every interval, and a summary.</summary>
    Plain,

    /// <summary>Nothing.</summary>
    None,
}

/// <summary>Shows an embedding run's progress; the share of the input read (file inputs) gives the bar and the time left.</summary>
internal static class ProgressDisplay
{
    public static T Run<T>(ProgressMode mode, TimeSpan interval, TextSource source, Func<IProgress<EmbeddingProgress>, T> work)
    {
        if (mode == ProgressMode.Auto) mode = Console.IsErrorRedirected ? ProgressMode.Plain : ProgressMode.Bar;
        switch (mode)
        {
            case ProgressMode.None:
                return work(new Reporter(_ => { }));
            case ProgressMode.Plain:
                var clock = Stopwatch.StartNew();
                var next = interval;
                return work(new Reporter(p =>
                {
                    if (p.Completed || clock.Elapsed < next) return;
                    next = clock.Elapsed + interval;
                    Console.Error.WriteLine($"te: {Line(p)}{Share(source)}");
                }));
            default:
                var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
                var result = default(T)!;
                console.Progress()
                    .AutoClear(false)
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask("embedding", maxValue: source.Length is > 0 and var l ? l : 1);
                        task.IsIndeterminate = source.Length is not > 0;
                        result = work(new Reporter(p =>
                        {
                            task.Description = Markup.Escape(Line(p));
                            if (source.Length is > 0) task.Value = Math.Min(source.Position, task.MaxValue);
                            if (p.Completed) task.Value = task.MaxValue;
                        }));
                        task.StopTask();
                    });
                return result;
        }
    }

    public static string Line(EmbeddingProgress p) =>
        $"{p.Texts:N0} texts, {p.Tokens:N0} tokens, {p.TokensPerSecond:N0} tokens/s" + (p.TruncatedTexts > 0 ? $", {p.TruncatedTexts:N0} cut at the limit" : "");

    private static string Share(TextSource source) =>
        source.Length is > 0 and var l ? $", {100.0 * source.Position / l:F0} % of the input read" : "";

    private sealed class Reporter(Action<EmbeddingProgress> report) : IProgress<EmbeddingProgress>
    {
        public void Report(EmbeddingProgress value) => report(value);
    }
}

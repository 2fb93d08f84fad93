using System.CommandLine;
using TransformerEmbeddings.Hub;

namespace TransformerEmbeddings.Cli.Commands;

/// <summary>
/// <c>te download ID [--revision R] [--cache-dir DIR]</c>: like <c>huggingface-cli download</c>, asks the Hub which commit
/// the revision is, fetches what the model needs into the shared cache and prints the snapshot folder.
/// </summary>
internal static class DownloadCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "A HuggingFace model id: org/name, optionally @revision." };
        var revision = ModelSource.RevisionOption();
        var cacheDir = new Option<string?>("--cache-dir") { Description = "The cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)." };
        var command = new Command("download", "Download what a model needs into the HuggingFace cache and print its snapshot folder.")
        {
            model, revision, cacheDir,
        };
        command.SetAction(parse => CommandRunner.Run(() =>
        {
            var folder = ModelSource.WithProgress(progress => ModelHub.DownloadAsync(parse.GetValue(model)!,
                new HubOptions { Revision = parse.GetValue(revision), CacheDirectory = parse.GetValue(cacheDir), Progress = progress }));
            Console.Out.WriteLine(folder);
            return 0;
        }, needsRuntime: false));
        return command;
    }
}

using System.CommandLine;
using TransformerEmbeddings.Cli;
using TransformerEmbeddings.Cli.Commands;
using TransformerEmbeddings.Runtime;

// libtorch takes a few hundred milliseconds to load: start it now for the commands that run a model, while the command
// line is parsed and the model's files are read (TransformerModel.Load waits for it; a failure surfaces there).
if (args.Length > 0 && args[0] is "embed" or "dump" or "search")
{
    StartUp.BindNativeCalls();
    _ = NativeRuntime.LoadInBackground();
}

var root = new RootCommand("te: HuggingFace-exact BERT/RoBERTa encoders for .NET — tokenize, dump internals, embed texts, search them, download models.");
root.Subcommands.Add(TokenizeCommand.Create());
root.Subcommands.Add(DumpCommand.Create());
root.Subcommands.Add(EmbedCommand.Create());
root.Subcommands.Add(SearchCommand.Create());
root.Subcommands.Add(DownloadCommand.Create());
root.Subcommands.Add(NearestCommand.Create());
root.Subcommands.Add(FillMaskCommand.Create());
root.Subcommands.Add(PlotCommand.Create());
return StartUp.Exit(root.Parse(args).Invoke());

using System.CommandLine;
using TransformerEmbeddings.Cli.Commands;

var root = new RootCommand("te: HuggingFace-exact BERT/RoBERTa encoders for .NET — tokenize, dump internals, embed texts, search them, download models.");
root.Subcommands.Add(TokenizeCommand.Create());
root.Subcommands.Add(DumpCommand.Create());
root.Subcommands.Add(EmbedCommand.Create());
root.Subcommands.Add(SearchCommand.Create());
root.Subcommands.Add(DownloadCommand.Create());
root.Subcommands.Add(NearestCommand.Create());
root.Subcommands.Add(FillMaskCommand.Create());
root.Subcommands.Add(PlotCommand.Create());
return root.Parse(args).Invoke();

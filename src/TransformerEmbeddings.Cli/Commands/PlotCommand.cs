using System.CommandLine;
using System.Globalization;
using TransformerEmbeddings.Analysis;
using TransformerEmbeddings.Cli.Analysis;
using TransformerEmbeddings.Cli.Plotting;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.SentenceTransformers;

namespace TransformerEmbeddings.Cli.Commands;

/// <summary>
/// <c>te plot attention|pca|nearest … --output FILE.png|.svg</c>: pictures of what a model does (docs/analysis.md): one
/// head's attention pattern, a PCA map of text embeddings, and the nearest vocabulary tokens in a head's value space.
/// </summary>
internal static class PlotCommand
{
    public static Command Create()
    {
        var command = new Command("plot", "Draw a head's attention, a PCA map of embeddings, or a token's nearest tokens in value space, as PNG or SVG.");
        command.Subcommands.Add(Attention());
        command.Subcommands.Add(PcaMap());
        command.Subcommands.Add(Nearest());
        return command;
    }

    private sealed class Common
    {
        public Option<string> Model { get; } = ModelSource.ModelOption("A BERT/RoBERTa model");
        public Option<string?> Revision { get; } = ModelSource.RevisionOption();
        public Option<string> Output { get; } = new("--output", "-o") { Description = "The picture: .png or .svg.", Required = true };
        public Option<int> Width { get; } = new("--width") { Description = "Pixels.", DefaultValueFactory = _ => 800 };
        public Option<int> Height { get; } = new("--height") { Description = "Pixels.", DefaultValueFactory = _ => 700 };

        public void AddTo(Command c)
        {
            foreach (var o in new Option[] { Model, Revision, Output, Width, Height }) c.Options.Add(o);
        }

        public TransformerModel Load(ParseResult parse) => TransformerModel.Load(ModelSource.Resolve(parse, Model, Revision));

        public void Save(ParseResult parse, ScottPlot.Plot plot)
        {
            var path = parse.GetValue(Output)!;
            PlotFile.Save(plot, path, parse.GetValue(Width), parse.GetValue(Height));
            Console.Error.WriteLine($"te: wrote {path}");
        }
    }

    private static Command Attention()
    {
        var common = new Common();
        var text = new Option<string>("--text") { Description = "The text.", Required = true };
        var layer = new Option<int>("--layer") { Description = "The block, 0-based (negative from the end).", Required = true };
        var head = new Option<int>("--head") { Description = "The head, 0-based.", Required = true };
        var command = new Command("attention", "A heatmap of one head's attention probabilities, tokens as labels.") { text, layer, head };
        common.AddTo(command);
        command.SetAction(parse => CommandRunner.Run(() =>
        {
            using var model = common.Load(parse);
            var l = parse.GetValue(layer);
            using var output = model.Encode([parse.GetValue(text)!], new CaptureOptions { Kinds = ActivationKind.Attentions, Layers = [l] });
            var pattern = output.AttentionPattern(l, parse.GetValue(head), 0);
            var normalized = l < 0 ? l + model.Config.NumHiddenLayers : l;
            common.Save(parse, AttentionHeatmap.Draw(pattern, output.Tokenization![0].Tokens, $"{Path.GetFileName(model.Folder)}: layer {normalized}, head {parse.GetValue(head)}"));
            return 0;
        }));
        return command;
    }

    private static Command PcaMap()
    {
        var common = new Common();
        var input = new Option<string>("--input") { Description = "Texts: .txt (one per line), .jsonl or .json (as te embed reads them).", Required = true };
        var field = new Option<string>("--field") { Description = "The text field of JSON objects.", DefaultValueFactory = _ => "text" };
        var command = new Command("pca", "The texts' embeddings (the folder's sentence-transformers setup, else mean pooling) on their first two principal components.") { input, field };
        common.AddTo(command);
        command.SetAction(parse => CommandRunner.Run(() =>
        {
            using var embedder = SentenceEmbedder.Load(ModelSource.Resolve(parse, common.Model, common.Revision));
            using var source = TextSource.Open(parse.GetValue(input)!, null, parse.GetValue(field)!, null);
            var texts = source.Read().Select(r => r.Text).ToList();
            if (texts.Count < 3) throw new CliException($"a PCA map needs at least 3 texts; {parse.GetValue(input)} has {texts.Count}.");
            var vectors = embedder.Embed(texts);
            var pca = Pca.Fit(vectors.ToArray(), components: 2);
            string Axis(int i) => string.Create(CultureInfo.InvariantCulture, $"PC{i + 1} ({pca.ExplainedVarianceRatio[i]:P1} of the variance)");
            var labels = texts.Select(t => t.Length <= 32 ? t : t[..31] + "…").ToList();
            common.Save(parse, ScatterWithLabels.Draw(pca.Projections, labels, $"{Path.GetFileName(embedder.Model.Folder)}: {texts.Count} texts", Axis(0), Axis(1)));
            return 0;
        }));
        return command;
    }

    private static Command Nearest()
    {
        var common = new Common();
        var text = new Option<string>("--text") { Description = "The text.", Required = true };
        var layer = new Option<int>("--layer") { Description = "The block whose value space is searched, 0-based (negative from the end).", Required = true };
        var head = new Option<int>("--head") { Description = "The head.", DefaultValueFactory = _ => 0 };
        var k = new Option<int>("--k", "-k") { Description = "Tokens shown.", DefaultValueFactory = _ => 15 };
        var choice = new TokenChoice();
        var command = new Command("nearest", "The vocabulary tokens nearest to a token's encoding in one head's value space, as bars of their distances.") { text, layer, head, k };
        common.AddTo(command);
        choice.AddTo(command);
        command.SetAction(parse => CommandRunner.Run(() =>
        {
            using var model = common.Load(parse);
            var metric = parse.GetValue(choice.Metric) is null ? DistanceMetric.Cosine : choice.Metrics(parse); // one metric: cosine unless asked
            var result = NearestCommand.Run(model, parse.GetValue(text)!, parse, choice, parse.GetValue(layer), parse.GetValue(head), parse.GetValue(k), metric);
            var h = result.Heads[0];
            var (name, nearest) = h.Cosine is { } c ? ("cosine distance", c) : ("Euclidean distance", h.Euclidean!);
            var token = model.Tokenizer.IdToToken(result.TokenId) ?? "?";
            var title = $"'{PlotFile.Label(token)}' at layer {result.Layer}, head {h.Head} (its own rank: {nearest.SelfRank})";
            common.Save(parse, DistanceBars.Draw(nearest.Tokens.Select(t => (t.Token, t.Distance)).ToList(), title, name));
            return 0;
        }));
        return command;
    }
}

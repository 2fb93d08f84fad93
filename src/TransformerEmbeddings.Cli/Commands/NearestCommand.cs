using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using TransformerEmbeddings.Analysis;
using TransformerEmbeddings.Cli.Analysis;
using TransformerEmbeddings.Inspection;

namespace TransformerEmbeddings.Cli.Commands;

/// <summary>
/// <c>te nearest --model DIR --text "…" (--token I | --word W) --layer L [--head H] [--metric M] [--k 10] [--json]</c>:
/// the vocabulary tokens nearest to a token's per-head encoding in layer L's value space (docs/analysis.md).
/// </summary>
internal static class NearestCommand
{
    public static Command Create()
    {
        var model = ModelSource.ModelOption("A BERT/RoBERTa model");
        var revision = ModelSource.RevisionOption();
        var text = new Option<string>("--text") { Description = "The text.", Required = true };
        var layer = new Option<int>("--layer") { Description = "The block whose value space is searched, 0-based (negative from the end).", Required = true };
        var head = new Option<int?>("--head") { Description = "One head (default: every head)." };
        var k = new Option<int>("--k", "-k") { Description = "Tokens per head and metric.", DefaultValueFactory = _ => 10 };
        var json = new Option<bool>("--json") { Description = "Print {\"layer\", \"position\", \"token_id\", \"heads\": [...]} instead of tables." };
        var choice = new TokenChoice();
        var command = new Command("nearest", "The vocabulary tokens nearest to a token's per-head encoding in a layer's value space. Exit codes as te embed.")
        {
            model, text, layer, head, k, json, revision,
        };
        choice.AddTo(command);
        command.SetAction(parse => CommandRunner.Run(() =>
        {
            using var m = TransformerModel.Load(ModelSource.Resolve(parse, model, revision));
            var result = Run(m, parse.GetValue(text)!, parse, choice, parse.GetValue(layer), parse.GetValue(head), parse.GetValue(k), choice.Metrics(parse));
            if (parse.GetValue(json)) Console.Out.WriteLine(ToJson(result));
            else Print(m, result);
            return 0;
        }));
        return command;
    }

    /// <summary>Encodes the text, picks the token and searches (shared with te plot nearest).</summary>
    internal static ValueSpaceNeighbors Run(TransformerModel model, string text, ParseResult parse, TokenChoice choice, int layer, int? head, int k, DistanceMetric metrics)
    {
        if (k < 1) throw new CliException("--k must be at least 1.");
        var space = new ValueSpace(model, layer);
        using var output = model.Encode([text], new CaptureOptions { Kinds = ActivationKind.Contexts, Layers = [space.Layer] });
        var position = choice.Resolve(parse, output, text);
        var options = new NearestOptions { K = k, Metrics = metrics, Heads = head is { } h ? [h] : null };
        return space.Nearest(output, 0, position, options);
    }

    internal static string ToJson(ValueSpaceNeighbors result)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("layer", result.Layer);
            w.WriteNumber("position", result.Position);
            w.WriteNumber("token_id", result.TokenId);
            w.WriteStartArray("heads");
            foreach (var h in result.Heads)
            {
                w.WriteStartObject();
                w.WriteNumber("head", h.Head);
                foreach (var (name, n) in new[] { ("cosine", h.Cosine), ("euclidean", h.Euclidean) })
                {
                    if (n is null) continue;
                    w.WriteStartObject(name);
                    w.WriteStartArray("ids");
                    foreach (var t in n.Tokens) w.WriteNumberValue(t.Id);
                    w.WriteEndArray();
                    w.WriteStartArray("tokens");
                    foreach (var t in n.Tokens) w.WriteStringValue(t.Token);
                    w.WriteEndArray();
                    w.WriteStartArray("distances");
                    foreach (var t in n.Tokens) w.WriteNumberValue(t.Distance);
                    w.WriteEndArray();
                    if (n.SelfRank is { } r) w.WriteNumber("self_rank", r);
                    else w.WriteNull("self_rank");
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void Print(TransformerModel model, ValueSpaceNeighbors result)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        var token = model.Tokenizer.IdToToken(result.TokenId) ?? "?";
        console.MarkupLine(Markup.Escape($"layer {result.Layer}, token {result.Position} '{token}' (id {result.TokenId}): nearest vocabulary tokens in value space"));
        foreach (var h in result.Heads)
        {
            var table = new Table().Title(Markup.Escape($"head {h.Head}")).AddColumn("#");
            var columns = new[] { ("cosine", h.Cosine), ("euclidean", h.Euclidean) }.Where(c => c.Item2 is not null).ToList();
            foreach (var (name, n) in columns)
                table.AddColumn(Markup.Escape($"{name} (self rank {n!.SelfRank})"));
            var rows = columns.Max(c => c.Item2!.Tokens.Count);
            for (var i = 0; i < rows; i++)
            {
                var cells = new List<string> { (i + 1).ToString(CultureInfo.InvariantCulture) };
                foreach (var (_, n) in columns)
                    cells.Add(i < n!.Tokens.Count ? Markup.Escape(string.Create(CultureInfo.InvariantCulture, $"{n.Tokens[i].Token} {n.Tokens[i].Distance:F4}")) : "");
                table.AddRow(cells.ToArray());
            }
            console.Write(table);
        }
    }
}

using System.CommandLine;
using Spectre.Console;
using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.Runtime;
using TransformerEmbeddings.SentenceTransformers;

namespace TransformerEmbeddings.Cli.Commands;

/// <summary>
/// <c>te embed --model DIR --input FILE --output FILE.npy</c>: one float32 vector per input line, in input order,
/// batched; memory is bounded by a chunk of lines, not by the file.
/// </summary>
internal static class EmbedCommand
{
    private const int ChunkLines = 2048; // length-sorted within a chunk; bounds memory

    public static Command Create()
    {
        var model = ModelSource.ModelOption("A HuggingFace or sentence-transformers model");
        var revision = ModelSource.RevisionOption();
        var input = new Option<string>("--input") { Description = "Texts: one per line, or .jsonl (one JSON string per line), or .json (an array of strings).", Required = true };
        var output = new Option<string>("--output") { Description = "Where to write the vectors (.npy, float32 [N, D]).", Required = true };
        var pooling = new Option<string?>("--pooling")
        {
            Description = $"Token pooling: {string.Join(", ", PoolingStrategy.SupportedNames)}, or several joined by '+'. Default: the folder's sentence-transformers setup, else mean.",
        };
        var layers = new Option<string?>("--layers") { Description = "Average these hidden states before pooling: one index (-1 = last) or a range such as -4..-1." };
        var normalize = new Option<bool?>("--normalize") { Description = "L2-normalise the vectors (default: as the folder says, else true)." };
        var prompt = new Option<string?>("--prompt") { Description = "A prompt name from config_sentence_transformers.json, prepended to every text." };
        var batchSize = new Option<int>("--batch-size") { Description = "Texts per forward pass.", DefaultValueFactory = _ => 32 };
        var maxLength = new Option<int?>("--max-length") { Description = "Truncate to this many tokens (default: the folder's max_seq_length or the model's limit)." };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };
        var precision = new Option<Precision>("--precision")
        {
            Description = "float32 (exact, default), bfloat16, float16, or fast: the quickest path within cosine 0.999 of exact, chosen by CPU features.",
            DefaultValueFactory = _ => Precision.Float32,
        };

        var command = new Command("embed", "Embed texts (one per line) into a .npy matrix.")
        {
            model, input, output, pooling, layers, normalize, prompt, batchSize, maxLength, device, precision, revision,
        };
        command.SetAction(parse => CommandRunner.Run(() =>
        {
            var inputPath = parse.GetValue(input)!;
            var batch = parse.GetValue(batchSize);
            if (batch < 1) throw new CliException("--batch-size must be at least 1.");

            var options = new ModelOptions { Device = parse.GetValue(device)!, MaxLength = parse.GetValue(maxLength), Precision = parse.GetValue(precision) };
            var (embedder, finalNormalize, ownedModel) = CreateEmbedder(ModelSource.Resolve(parse, model, revision), options, parse.GetValue(pooling), parse.GetValue(layers), parse.GetValue(normalize));
            using var embedderScope = embedder;
            using var modelScope = ownedModel;
            var promptName = parse.GetValue(prompt);

            long count = 0;
            foreach (var _ in TextSource.Read(inputPath)) count++;
            using var writer = new NpyWriter(parse.GetValue(output)!, count, embedder.Dimension);
            WithProgress(count, advance =>
            {
                foreach (var chunk in TextSource.Read(inputPath).Chunk(ChunkLines))
                {
                    foreach (var row in embedder.Embed(chunk, promptName, batch))
                    {
                        if (finalNormalize) L2Normalize(row);
                        writer.WriteRow(row);
                    }
                    advance(chunk.Length);
                }
            });
            writer.Commit();
            return 0;
        }));
        return command;
    }

    /// <summary>The embedder, and whether rows still need a final L2 normalisation.</summary>
    private static (SentenceEmbedder Embedder, bool Normalize, TransformerModel? OwnedModel) CreateEmbedder(
        string folder, ModelOptions options, string? pooling, string? layers, bool? normalize)
    {
        if (pooling is null && layers is null)
        {
            var embedder = SentenceEmbedder.Load(folder, options);
            if (!embedder.IsSentenceTransformersFolder || normalize is null) return (embedder, false, null);
            if (normalize == false)
            {
                embedder.Dispose();
                throw new CliException("--normalize false cannot undo a sentence-transformers folder's own pipeline; choose --pooling to pool without it.");
            }
            return (embedder, true, null); // idempotent when the folder already normalises
        }

        var strategy = pooling is null ? PoolingStrategy.Mean : ParsePooling(pooling);
        if (layers is null) return (SentenceEmbedder.Load(folder, strategy, normalize ?? true, options), false, null);

        var range = ParseLayers(layers);
        var model = TransformerModel.Load(folder, options);
        // Create(model, ...) leaves the model to its caller.
        return (SentenceEmbedder.Create(model, output => output.Layers(range).Mean().Tokens().Pool(strategy)), normalize ?? true, model);
    }

    private static void L2Normalize(float[] row)
    {
        var norm = Math.Sqrt(row.Sum(x => (double)x * x));
        var scale = (float)(1 / Math.Max(norm, 1e-12));
        for (var i = 0; i < row.Length; i++) row[i] *= scale;
    }

    private static PoolingStrategy ParsePooling(string text) =>
        PoolingStrategy.TryParse(text, out var s)
            ? s
            : throw new CliException($"unknown --pooling '{text}'; use {string.Join(", ", PoolingStrategy.SupportedNames)} (several joined by '+').");

    internal static Range ParseLayers(string text)
    {
        static Index ToIndex(string s) => int.TryParse(s, out var i)
            ? (i < 0 ? ^(-i) : i)
            : throw new CliException($"--layers: '{s}' is not an integer.");

        var parts = text.Split("..", StringSplitOptions.TrimEntries);
        if (parts.Length == 1)
        {
            var i = ToIndex(parts[0]);
            return i.IsFromEnd ? (i.Value == 1 ? ^1.. : new Range(i, ^(i.Value - 1))) : new Range(i, i.Value + 1);
        }
        if (parts.Length != 2) throw new CliException($"--layers: '{text}' is neither an index nor a range such as -4..-1.");
        var end = ToIndex(parts[1]);
        // Inclusive on the command line (-4..-1 is the last four), exclusive in C#.
        var exclusiveEnd = end.IsFromEnd ? (end.Value == 1 ? Index.End : ^(end.Value - 1)) : new Index(end.Value + 1);
        return new Range(ToIndex(parts[0]), exclusiveEnd);
    }

    private static void WithProgress(long total, Action<Action<int>> work)
    {
        if (Console.IsErrorRedirected || total == 0)
        {
            work(_ => { });
            return;
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        console.Progress().Start(ctx =>
        {
            var task = ctx.AddTask("embedding", maxValue: total);
            work(n => task.Increment(n));
        });
    }
}

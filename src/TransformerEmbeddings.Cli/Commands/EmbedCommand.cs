using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using TransformerEmbeddings.Analysis;
using TransformerEmbeddings.Cli.Output;
using TransformerEmbeddings.Pipelines;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Pooling;

namespace TransformerEmbeddings.Cli.Commands;

/// <summary>
/// <c>te embed --model DIR --input FILE|- --output FILE|-</c>: one float32 vector per input text, in input order. The
/// input is read once, in token-budget batches sorted by length within a window, so memory is bounded by the window;
/// <c>--shard i/N</c> takes every N-th text; <c>--resume</c> continues a killed run from its partial output.
/// </summary>
internal static class EmbedCommand
{
    /// <summary>How often a run makes its partial output durable (what a resumed run keeps).</summary>
    private static readonly TimeSpan CheckpointInterval = TimeSpan.FromSeconds(2);

    public static Command Create()
    {
        var model = ModelSource.ModelOption("A HuggingFace or sentence-transformers model");
        var revision = ModelSource.RevisionOption();
        var input = new Option<string>("--input")
        {
            Description = "Texts: a file (.txt one per line, .jsonl one JSON string or object per line, .json an array) or - for standard input.",
            Required = true,
        };
        var output = new Option<string>("--output")
        {
            Description = "Where the vectors go, by extension: .npy (float32 [N, D]), .safetensors (F32 'embeddings' [N, D], ids in __metadata__), .jsonl ({\"id\", \"embedding\"} per line), or - for JSON lines on standard output.",
            Required = true,
        };
        var inputFormat = new Option<string?>("--input-format") { Description = "txt, jsonl or json (default: by the input's extension; txt for standard input)." };
        var field = new Option<string>("--field") { Description = "The text field of JSON objects.", DefaultValueFactory = _ => "text" };
        var idField = new Option<string?>("--id-field") { Description = "The id field of JSON objects (a string or number), written with each vector; default: the 0-based input position." };
        var shard = new Option<string?>("--shard") { Description = "i/N: embed only the texts whose 0-based input position % N == i (one of N machines)." };
        var resume = new Option<bool>("--resume") { Description = "Continue an interrupted run with the same settings from its partial output; the result is the same file, byte for byte." };
        var pooling = new Option<string?>("--pooling")
        {
            Description = $"Token pooling: {string.Join(", ", PoolingStrategy.SupportedNames)}, or several joined by '+'. Default: the folder's sentence-transformers setup, else mean (as SentenceTransformer(folder)).",
        };
        var hiddenStates = new Option<string?>("--hidden-states")
        {
            Description = "Average these hidden states (0 the embeddings output, l + 1 the output of layer l) before pooling: indices and inclusive ranges, negative from the end, e.g. -4..-1 or 0,-1.",
        };
        var normalize = new Option<bool?>("--normalize") { Description = "L2-normalise the vectors last (default: as the folder's sentence-transformers pipeline says; else no, as SentenceTransformer(folder))." };
        var prompt = new Option<string?>("--prompt") { Description = "A prompt name from config_sentence_transformers.json, prepended to every text." };
        var promptText = new Option<string?>("--prompt-text") { Description = "A literal prompt prepended to every text." };
        var truncateDim = new Option<int?>("--truncate-dim") { Description = "Keep the first D dimensions of every vector (Matryoshka)." };
        var batchSize = new Option<int>("--batch-size") { Description = "The most texts per forward pass.", DefaultValueFactory = _ => BatchOptions.Default.MaxTextsPerBatch };
        var maxTokens = new Option<int>("--max-tokens") { Description = "The most padded tokens per forward pass (texts × longest).", DefaultValueFactory = _ => BatchOptions.Default.MaxTokensPerBatch };
        var maxLength = new Option<int?>("--max-length") { Description = "Token limit per text (default: the folder's max_seq_length or the model's limit)." };
        var longTexts = new Option<LongTextHandling>("--long-texts")
        {
            Description = "Texts over the limit: Truncate (cut, counted), Refuse (exit 1), SlidingWindow (average overlapping windows).",
            DefaultValueFactory = _ => LongTextHandling.Truncate,
        };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };
        var precision = new Option<Precision>("--precision")
        {
            Description = "float32 (exact, default), bfloat16, float16, or fast: the quickest path within cosine 0.999 of exact, chosen by CPU features.",
            DefaultValueFactory = _ => Precision.Float32,
        };
        var quantize = new Option<string?>("--quantize")
        {
            Description = "Store int8 or uint8 (4× smaller; ranges calibrated on the first --calibration texts of the shard) or binary/ubinary (sign bits packed, 32× smaller), as sentence-transformers' quantize_embeddings.",
        };
        var calibration = new Option<int>("--calibration") { Description = "int8/uint8: how many texts (the first of the shard) calibrate the ranges.", DefaultValueFactory = _ => 1000 };
        var progress = new Option<ProgressMode>("--progress") { Description = "Auto (a bar on a terminal, else lines), Bar, Plain or None; always on stderr.", DefaultValueFactory = _ => ProgressMode.Auto };
        var progressInterval = new Option<double>("--progress-interval") { Description = "Seconds between plain progress lines.", DefaultValueFactory = _ => 10 };

        var command = new Command("embed", "Embed texts into vectors (.npy, .safetensors, .jsonl or stdout). Exit codes: 0 done, 1 bad input or usage, 2 model error, 3 output error, 4 unexpected error, 130 interrupted (resume with --resume).")
        {
            model, input, output, inputFormat, field, idField, shard, resume, pooling, hiddenStates, normalize, prompt, promptText, truncateDim,
            batchSize, maxTokens, maxLength, longTexts, device, precision, quantize, calibration, progress, progressInterval, revision,
        };
        command.SetAction(parse => CommandRunner.Run(needsRuntime: false, body: () =>
        {
            var (shardIndex, shardCount) = ParseShard(parse.GetValue(shard));
            var batching = new BatchOptions { MaxTextsPerBatch = parse.GetValue(batchSize), MaxTokensPerBatch = parse.GetValue(maxTokens) };
            if (batching.MaxTextsPerBatch < 1) throw new CliException("--batch-size must be at least 1.");
            if (batching.MaxTokensPerBatch < 1) throw new CliException("--max-tokens must be at least 1.");
            var format = ParseFormat(parse.GetValue(inputFormat));
            var inputPath = parse.GetValue(input)!;
            var outputPath = parse.GetValue(output)!;
            var ids = parse.GetValue(idField);

            var modelOptions = new ModelOptions { Device = parse.GetValue(device)!, MaxLength = parse.GetValue(maxLength), Precision = parse.GetValue(precision) };
            var states = IndexList.Parse("--hidden-states", parse.GetValue(hiddenStates));
            using var embedder = CreateEmbedder(ModelSource.Resolve(parse, model, revision), modelOptions, parse.GetValue(pooling), states, parse.GetValue(normalize));
            var options = new EmbeddingOptions
            {
                PromptName = parse.GetValue(prompt),
                Prompt = parse.GetValue(promptText),
                Normalize = parse.GetValue(normalize) ?? false,
                TruncateDimension = parse.GetValue(truncateDim),
                LongTexts = parse.GetValue(longTexts),
                Batching = batching,
            };
            if (options.TruncateDimension is { } t && (t < 1 || t > embedder.Dimension))
                throw new CliException($"--truncate-dim must lie in 1..{embedder.Dimension}.");
            var dimension = options.TruncateDimension ?? embedder.Dimension;

            var quantization = ParseQuantize(parse.GetValue(quantize));
            if (parse.GetValue(calibration) < 1) throw new CliException("--calibration must be at least 1.");
            using var source = TextSource.Open(inputPath, format, parse.GetValue(field)!, ids);
            var job = JobDescription(parse, embedder, source, dimension);
            var rowFormat = quantization is not { } qp ? RowFormat.Float32(dimension) : new RowFormat(
                qp is QuantizationPrecision.Int8 or QuantizationPrecision.Binary ? RowType.Int8 : RowType.UInt8,
                qp is QuantizationPrecision.Binary or QuantizationPrecision.UBinary ? (dimension + 7) / 8 : dimension);
            using var writer = EmbeddingWriter.Open(outputPath, rowFormat, ids is not null, parse.GetValue(resume), job);
            var pending = new Queue<(long Local, long Global, string? Id)>();
            var texts = Shard(source, shardIndex, shardCount, pending);
            EmbeddingQuantizer? quantizer = null;
            if (quantization is { } q)
            {
                // int8/uint8 ranges from the first texts, embedded once more here: a resumed run calibrates the same ranges.
                QuantizationRanges? ranges = null;
                if (q is QuantizationPrecision.Int8 or QuantizationPrecision.UInt8)
                    (texts, ranges) = Calibrate(embedder, texts, options, parse.GetValue(calibration));
                quantizer = new EmbeddingQuantizer(q, ranges);
                writer.Quantization = QuantizationNote(quantizer);
            }
            var row = new byte[rowFormat.Columns];
            options = options with { SkipTexts = writer.Rows };

            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true;
                cancel.Cancel();
            };
            Console.CancelKeyPress += onCancel;
            var clock = Stopwatch.StartNew();
            try
            {
                var final = ProgressDisplay.Run(parse.GetValue(progress), TimeSpan.FromSeconds(parse.GetValue(progressInterval)), source, reporter =>
                {
                    var last = default(EmbeddingProgress);
                    var progressSink = new Relay(reporter, p => last = p);
                    var checkpoint = Stopwatch.StartNew();
                    foreach (var r in embedder.EmbedStream(texts, options, progressSink, cancel.Token))
                    {
                        // The queue holds the positions and ids of texts read ahead; texts done by an earlier run are passed over.
                        var (local, global, id) = pending.Dequeue();
                        while (local < r.Index) (local, global, id) = pending.Dequeue();
                        if (quantizer is null) writer.Write(id, global, r.Values);
                        else
                        {
                            quantizer.Quantize(r.Values, row);
                            writer.Write(id, global, (ReadOnlySpan<byte>)row);
                        }
                        if (checkpoint.Elapsed < CheckpointInterval) continue;
                        writer.Checkpoint();
                        checkpoint.Restart();
                    }
                    return last;
                });
                writer.Complete();
                if (parse.GetValue(progress) != ProgressMode.None)
                    Console.Error.WriteLine($"te: {writer.Rows:N0} vectors of {dimension} in {clock.Elapsed.TotalSeconds:F1} s ({ProgressDisplay.Line(final)}) -> {outputPath}");
                return 0;
            }
            catch (OperationCanceledException)
            {
                writer.Checkpoint();
                Console.Error.WriteLine($"te: interrupted after {writer.Rows:N0} vectors; run the same command with --resume to continue.");
                return 130;
            }
            catch when (!parse.GetValue(resume))
            {
                writer.Discard();
                throw;
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        }));
        return command;
    }

    /// <summary>The texts of this shard, in input order; each one's input position and id queued for its result.</summary>
    private static IEnumerable<string> Shard(TextSource source, int index, int count, Queue<(long, long, string?)> pending)
    {
        long local = 0;
        foreach (var record in source.Read())
        {
            if (record.Index % count != index) continue;
            pending.Enqueue((local++, record.Index, record.Id));
            yield return record.Text;
        }
    }

    /// <summary>The settings that decide the output's bytes; a resumed run must match them.</summary>
    private static string JobDescription(ParseResult parse, SentenceEmbedder embedder, TextSource source, int dimension)
    {
        var settings = new SortedDictionary<string, string?>(StringComparer.Ordinal)
        {
            ["te"] = typeof(EmbedCommand).Assembly.GetName().Version?.ToString(),
            ["model"] = embedder.Model.Folder,
            ["path"] = embedder.Model.ComputePath,
            ["format"] = source.Format.ToString(),
            ["field"] = source.Field,
            ["dimension"] = dimension.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        foreach (var option in parse.CommandResult.Children.OfType<System.CommandLine.Parsing.OptionResult>())
        {
            var name = option.Option.Name;
            if (name is "--resume" or "--progress" or "--progress-interval") continue;
            var value = option.Implicit ? null : string.Join(' ', option.Tokens.Select(t => t.Value));
            settings[name] = name == "--input" && value is not null && value != "-" ? Path.GetFullPath(value) : value;
        }
        // Written field by field: the reflection-based serializer cost ~40 ms of start-up for one dictionary.
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            foreach (var (name, value) in settings)
            {
                if (value is null) json.WriteNull(name);
                else json.WriteString(name, value);
            }
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static QuantizationPrecision? ParseQuantize(string? text) => text?.ToLowerInvariant() switch
    {
        null => null,
        "int8" => QuantizationPrecision.Int8,
        "uint8" => QuantizationPrecision.UInt8,
        "binary" => QuantizationPrecision.Binary,
        "ubinary" => QuantizationPrecision.UBinary,
        _ => throw new CliException($"unknown --quantize '{text}'; use int8, uint8, binary or ubinary."),
    };

    /// <summary>Calibrates int8/uint8 ranges on the first <paramref name="count"/> texts and gives back all texts, those first.</summary>
    private static (IEnumerable<string> Texts, QuantizationRanges Ranges) Calibrate(SentenceEmbedder embedder, IEnumerable<string> texts, EmbeddingOptions options, int count)
    {
        var rest = texts.GetEnumerator();
        var head = new List<string>(Math.Min(count, 4096));
        while (head.Count < count && rest.MoveNext()) head.Add(rest.Current);
        if (head.Count == 0) throw new CliException("--quantize int8/uint8 needs at least one text to calibrate its ranges.");
        var sample = embedder.Embed(head, options with { SkipTexts = 0 });
        return (head.Concat(Remaining(rest)), QuantizationRanges.Calibrate(sample));

        static IEnumerable<string> Remaining(IEnumerator<string> e)
        {
            using (e)
                while (e.MoveNext()) yield return e.Current;
        }
    }

    /// <summary>How to read the quantized rows back (safetensors metadata): the precision, and the ranges of int8/uint8.</summary>
    private static string QuantizationNote(EmbeddingQuantizer quantizer) => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["precision"] = quantizer.Precision.ToString().ToLowerInvariant(),
        ["minimum"] = quantizer.Ranges?.Minimum,
        ["maximum"] = quantizer.Ranges?.Maximum,
    });

    private static (int Index, int Count) ParseShard(string? text)
    {
        if (text is null) return (0, 1);
        var parts = text.Split('/');
        if (parts.Length == 2 && int.TryParse(parts[0], out var i) && int.TryParse(parts[1], out var n) && n >= 1 && i >= 0 && i < n) return (i, n);
        throw new CliException($"--shard '{text}' must be i/N with 0 <= i < N, e.g. 0/4.");
    }

    private static InputFormat? ParseFormat(string? text) => text?.ToLowerInvariant() switch
    {
        null => null,
        "txt" or "text" or "lines" => InputFormat.Text,
        "jsonl" or "ndjson" => InputFormat.JsonLines,
        "json" => InputFormat.Json,
        _ => throw new CliException($"unknown --input-format '{text}'; use txt, jsonl or json."),
    };

    /// <summary>The folder's own pipeline, or the pooling (over hidden states) the options ask for.</summary>
    private static SentenceEmbedder CreateEmbedder(string folder, ModelOptions options, string? pooling, IndexList? hiddenStates, bool? normalize)
    {
        if (pooling is null && hiddenStates is null)
        {
            var embedder = SentenceEmbedder.Load(folder, options);
            if (embedder.IsSentenceTransformersFolder && normalize == false && embedder.EndsNormalized)
            {
                embedder.Dispose();
                throw new CliException("--normalize false cannot undo a sentence-transformers folder's own Normalize module; choose --pooling to pool without it.");
            }
            return embedder;
        }

        var strategy = pooling is null ? PoolingStrategy.Mean : ParsePooling(pooling);
        if (hiddenStates is null) return SentenceEmbedder.Load(folder, new SentenceEmbedderOptions { Pooling = strategy }, options);

        int[] indices = [];
        var custom = SentenceEmbedder.Load(folder, new SentenceEmbedderOptions
        {
            PoolingFunction = o => o.HiddenStates(indices).Mean().Tokens().Pool(strategy),
            Capture = new CaptureOptions { Kinds = ActivationKind.HiddenStates },
        }, options);
        try
        {
            indices = hiddenStates.HiddenStates(custom.Model.Config.NumHiddenLayers);
            return custom;
        }
        catch
        {
            custom.Dispose();
            throw;
        }
    }

    private static PoolingStrategy ParsePooling(string text) =>
        PoolingStrategy.TryParse(text, out var s)
            ? s
            : throw new CliException($"unknown --pooling '{text}'; use {string.Join(", ", PoolingStrategy.SupportedNames)} (several joined by '+').");

    /// <summary>Passes reports on and keeps the last one (the summary line).</summary>
    private sealed class Relay(IProgress<EmbeddingProgress> inner, Action<EmbeddingProgress> keep) : IProgress<EmbeddingProgress>
    {
        public void Report(EmbeddingProgress value)
        {
            keep(value);
            inner.Report(value);
        }
    }
}

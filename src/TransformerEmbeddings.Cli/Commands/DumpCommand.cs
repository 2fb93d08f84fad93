using System.CommandLine;
using System.Text.Json;
using TorchSharp;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Weights;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Cli.Commands;

/// <summary>
/// <c>te dump --model DIR --input IN.json --output OUT.safetensors</c>: every tensor named in ../shared/README.md for
/// each batch (sentences, and pairs with the <c>pairs.</c> prefix), so our numbers can be diffed against HuggingFace's.
/// </summary>
internal static class DumpCommand
{
    public static Command Create()
    {
        var model = ModelSource.ModelOption("A HuggingFace model");
        var revision = ModelSource.RevisionOption();
        var input = new Option<string>("--input") { Description = "{\"sentences\": [...], \"pairs\": [[a, b], ...]}", Required = true };
        var output = new Option<string>("--output") { Description = "Where to write the tensors (.safetensors).", Required = true };
        var maxLength = new Option<int?>("--max-length") { Description = "Truncate to this many tokens (default: the model's limit)." };
        var capture = new Option<string>("--capture")
        {
            Description = $"Comma-separated internals to dump: {string.Join(", ", HookPoint.Capturable.Select(p => p.Name))}, or all.",
            DefaultValueFactory = _ => "all",
        };
        var layers = new Option<string?>("--layers") { Description = "Layers (blocks, 0..L-1) to dump per-layer internals for: indices and inclusive ranges, negative from the end, e.g. 0,-1 or -2..-1; default all." };
        var headMask = new Option<string?>("--head-mask") { Description = "A JSON [layers][heads] array of multipliers on attention probabilities; adds head_masked.last_hidden_state." };
        var device = new Option<string>("--device") { Description = "cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };

        var command = new Command("dump", "Run a model and write its inputs, hidden states and internals to a safetensors file.")
        {
            model, input, output, maxLength, capture, layers, headMask, device, revision,
        };
        command.SetAction(parse => CommandRunner.Run(() =>
        {
            var kinds = ParseKinds(parse.GetValue(capture)!);
            var layerList = IndexList.Parse("--layers", parse.GetValue(layers));
            var mask = parse.GetValue(headMask) is { } maskPath ? ReadHeadMask(maskPath) : null;
            var file = InputFile.Read(parse.GetValue(input)!);
            using var m = TransformerModel.Load(ModelSource.Resolve(parse, model, revision), new ModelOptions { Device = parse.GetValue(device)! });
            var options = new CaptureOptions { Kinds = kinds, Layers = layerList?.Layers(m.Config.NumHiddenLayers) };
            var limit = parse.GetValue(maxLength);

            var entries = new List<SafeTensorEntry>();
            if (file.Sentences is { Count: > 0 } sentences)
            {
                Collect(entries, "", options, mask, c => m.Encode(sentences, c, limit));
                if (m.MaskedLanguageModel is { } mlm) AddMaskedLanguageModel(entries, m, mlm, sentences, limit);
            }
            if (file.Pairs is { Count: > 0 } pairs)
                Collect(entries, "pairs.", options, mask, c => m.Encode(pairs, c, limit));
            if (entries.Count == 0) throw new CliException("the input holds no texts.");
            SafeTensorsWriter.Write(parse.GetValue(output)!, entries, new Dictionary<string, string>
            {
                ["model"] = Path.GetFileName(m.Folder),
                ["producer"] = "TransformerEmbeddings te dump",
            });
            return 0;
        }));
        return command;
    }

    private static void Collect(List<SafeTensorEntry> entries, string prefix, CaptureOptions options,
        float[][]? headMask, Func<CaptureOptions, EncoderOutput> encode)
    {
        using (var output = encode(options))
        {
            foreach (var name in HookPoint.All.Where(p => p.Kind == ActivationKind.None).Select(p => p.Name).Concat(output.CapturedNames.Order(StringComparer.Ordinal)))
                if (output.Has(name)) Add(entries, prefix + name, output[name]);
            // pool.last4_mean reads hidden states the options may not have asked for: capture them now, on purpose.
            output.EnsureCaptured(ActivationKind.HiddenStates);
            DumpExtensions.AddPooling(entries, prefix, output);
        }

        if (headMask is not null)
        {
            using var masked = encode(new CaptureOptions { HeadMask = headMask });
            Add(entries, prefix + "head_masked.last_hidden_state", masked.LastHiddenState);
        }
    }

    /// <summary><c>mlm_rows</c>, <c>mlm_logits_selected</c>, <c>mlm_top5_ids</c>, <c>mlm_top5_logits</c> at every mask token.</summary>
    private static void AddMaskedLanguageModel(List<SafeTensorEntry> entries, TransformerModel model, MaskedLanguageModel mlm, IReadOnlyList<string> sentences, int? limit)
    {
        if (model.Tokenizer.MaskTokenId is not { } maskId) return;
        using var output = model.Encode(sentences, null, limit);
        var rows = new List<(int, int)>();
        for (var b = 0; b < output.Tokenization!.Count; b++)
            for (var i = 0; i < output.Tokenization[b].Count; i++)
                if (output.Tokenization[b].Ids[i] == maskId) rows.Add((b, i));
        if (rows.Count == 0) return;
        using var scope = NewDisposeScope();
        var logits = mlm.Logits(output, rows);
        var (values, indices) = logits.topk(5, dim: -1);
        Add(entries, "mlm_rows", tensor(rows.SelectMany(r => new long[] { r.Item1, r.Item2 }).ToArray(), [rows.Count, 2]));
        Add(entries, "mlm_logits_selected", logits);
        Add(entries, "mlm_top5_ids", indices);
        Add(entries, "mlm_top5_logits", values);
    }

    internal static void Add(List<SafeTensorEntry> entries, string name, Tensor t)
    {
        using var scope = NewDisposeScope();
        var isInt = t.dtype is ScalarType.Int64 or ScalarType.Int32;
        var c = (isInt ? t.to(ScalarType.Int64) : t.to(ScalarType.Float32)).cpu().contiguous();
        entries.Add(new SafeTensorEntry(name, isInt ? SafeTensorsDType.I64 : SafeTensorsDType.F32, c.shape, c.bytes.ToArray()));
    }

    private static ActivationKind ParseKinds(string value)
    {
        var kinds = ActivationKind.None;
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (part.Equals("all", StringComparison.OrdinalIgnoreCase)) kinds |= ActivationKind.All;
            else if (HookPoint.TryGet(part, out var point) && point.Kind != ActivationKind.None) kinds |= point.Kind;
            else throw new CliException($"unknown --capture value '{part}'; use {string.Join(", ", HookPoint.Capturable.Select(p => p.Name))} or all.");
        }
        return kinds;
    }

    private static float[][] ReadHeadMask(string path)
    {
        if (!File.Exists(path)) throw new CliException($"head mask file '{path}' does not exist.");
        try
        {
            return JsonSerializer.Deserialize<float[][]>(File.ReadAllText(path))
                   ?? throw new CliException($"{path}: expected a [layers][heads] array of numbers.");
        }
        catch (JsonException e)
        {
            throw new CliException($"{path}: expected a [layers][heads] array of numbers: {e.Message}");
        }
    }
}

using System.Text.Json;

namespace TransformerEmbeddings.Cli;

/// <summary>The <c>{"sentences": [...], "pairs": [[a, b], ...]}</c> input of <c>te dump</c> and <c>te tokenize</c> (either key optional).</summary>
internal sealed record InputFile(IReadOnlyList<string>? Sentences, IReadOnlyList<(string Text, string Pair)>? Pairs)
{
    public static InputFile Read(string path)
    {
        if (!File.Exists(path)) throw new CliException($"input file '{path}' does not exist.");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new CliException($"{path}: expected a JSON object with 'sentences' and/or 'pairs'.");
            List<string>? sentences = null;
            List<(string, string)>? pairs = null;
            if (root.TryGetProperty("sentences", out var s))
            {
                if (s.ValueKind != JsonValueKind.Array) throw new CliException($"{path}: 'sentences' must be an array of strings.");
                sentences = s.EnumerateArray().Select((e, i) => e.ValueKind == JsonValueKind.String
                    ? e.GetString()!
                    : throw new CliException($"{path}: sentences[{i}] is {e.ValueKind}, not a string.")).ToList();
            }
            if (root.TryGetProperty("pairs", out var p))
            {
                if (p.ValueKind != JsonValueKind.Array) throw new CliException($"{path}: 'pairs' must be an array of [text, pair] arrays.");
                pairs = p.EnumerateArray().Select((e, i) =>
                {
                    if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() != 2 || e.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
                        throw new CliException($"{path}: pairs[{i}] must be an array of two strings.");
                    return (e[0].GetString()!, e[1].GetString()!);
                }).ToList();
            }
            if (sentences is null && pairs is null) throw new CliException($"{path}: neither 'sentences' nor 'pairs' is present.");
            return new InputFile(sentences, pairs);
        }
        catch (JsonException e)
        {
            throw new CliException($"{path}: not valid JSON: {e.Message}");
        }
    }
}

using System.Text.Json;

namespace TransformerEmbeddings.Cli;

/// <summary>
/// The texts of <c>te embed</c>, streamed: a <c>.jsonl</c> file holds one JSON string (or an object with a
/// <c>"text"</c> field) per line, so texts may contain newlines; a <c>.json</c> file holds an array of strings or
/// <c>{"sentences": [...]}</c>; any other file holds one text per line.
/// </summary>
internal static class TextSource
{
    public static IEnumerable<string> Read(string path)
    {
        if (!File.Exists(path)) throw new CliException($"input file '{path}' does not exist.");
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".jsonl" or ".ndjson" => ReadJsonLines(path),
            ".json" => ReadJson(path),
            _ => File.ReadLines(path),
        };
    }

    private static IEnumerable<string> ReadJsonLines(string path)
    {
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string? text;
            try
            {
                using var doc = JsonDocument.Parse(line);
                var e = doc.RootElement;
                text = e.ValueKind switch
                {
                    JsonValueKind.String => e.GetString(),
                    JsonValueKind.Object when e.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String => t.GetString(),
                    _ => null,
                };
            }
            catch (JsonException ex)
            {
                throw new CliException($"{path}:{lineNumber}: not valid JSON: {ex.Message}");
            }
            yield return text ?? throw new CliException($"{path}:{lineNumber}: expected a JSON string or an object with a \"text\" string.");
        }
    }

    private static IEnumerable<string> ReadJson(string path)
    {
        var file = InputFileOrArray(path);
        return file;
    }

    private static IReadOnlyList<string> InputFileOrArray(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            if (doc.RootElement.ValueKind == JsonValueKind.Array)
            {
                return doc.RootElement.EnumerateArray().Select((e, i) => e.ValueKind == JsonValueKind.String
                    ? e.GetString()!
                    : throw new CliException($"{path}: item {i} is {e.ValueKind}, not a string.")).ToList();
            }
        }
        catch (JsonException e)
        {
            throw new CliException($"{path}: not valid JSON: {e.Message}");
        }
        return InputFile.Read(path).Sentences ?? throw new CliException($"{path}: expected an array of strings or {{\"sentences\": [...]}}.");
    }
}

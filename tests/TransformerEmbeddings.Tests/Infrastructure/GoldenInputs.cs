using System.Text.Json;
using System.Text.Json.Nodes;

namespace TransformerEmbeddings.Tests.Infrastructure;

/// <summary>../shared/golden/inputs.json with <c>{mask}</c> replaced by a model's mask token, as the golden files were made.</summary>
public static class GoldenInputs
{
    public static (string[] Sentences, (string, string)[] Pairs, string Long) For(TransformerModel model)
    {
        var root = JsonNode.Parse(File.ReadAllText(SharedData.GoldenFile("inputs.json")))!;
        var mask = model.Tokenizer.MaskToken ?? throw new InvalidOperationException("model has no mask token");
        var sentences = root["sentences"]!.AsArray().Select(n => n!.GetValue<string>().Replace("{mask}", mask)).ToArray();
        var pairs = root["pairs"]!.AsArray().Select(p => (p![0]!.GetValue<string>(), p[1]!.GetValue<string>())).ToArray();
        return (sentences, pairs, root["long"]!.GetValue<string>());
    }

    /// <summary>Writes the inputs in te's IN.json format and returns the path.</summary>
    public static string WriteInputFile(TransformerModel model, string folder)
    {
        var (sentences, pairs, _) = For(model);
        var path = Path.Combine(folder, "inputs.json");
        File.WriteAllText(path, JsonSerializer.Serialize(new { sentences, pairs = pairs.Select(p => new[] { p.Item1, p.Item2 }) }));
        return path;
    }
}

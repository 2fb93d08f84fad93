using System.Text.Json;
using System.Text.Json.Nodes;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Cli;

/// <summary><c>te tokenize</c> against the golden tokenizations of the four model folders (the tokenizer issue's contract).</summary>
public sealed class TeTokenizeTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("te-tok-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    public static TheoryData<string> Models() => new(SharedData.ModelNames);

    [Theory]
    [MemberData(nameof(Models))]
    public void Tokenize_writes_the_golden_fields(string model)
    {
        var m = ModelCache.Get(model);
        var input = GoldenInputs.WriteInputFile(m, temp);
        var output = Path.Combine(temp, "out.json");
        var (code, error) = TeRunner.Run("tokenize", "--model", SharedData.Model(model), "--input", input, "--output", output);
        Assert.True(code == 0, error);

        var golden = JsonNode.Parse(File.ReadAllText(SharedData.GoldenFile(model + ".tokens.json")))!;
        var ours = JsonNode.Parse(File.ReadAllText(output))!;
        foreach (var batch in new[] { "sentences", "pairs" })
        {
            var expected = golden[batch]!.AsArray();
            var actual = ours[batch]!.AsArray();
            Assert.Equal(expected.Count, actual.Count);
            for (var i = 0; i < expected.Count; i++)
            {
                foreach (var field in new[] { "ids", "tokens", "offsets", "word_ids", "type_ids", "special_tokens_mask" })
                {
                    Assert.True(JsonNode.DeepEquals(expected[i]![field], actual[i]![field]),
                        $"{model} {batch}[{i}].{field}: expected {expected[i]![field]!.ToJsonString()}, got {actual[i]![field]!.ToJsonString()}");
                }
                Assert.False(actual[i]!["truncated"]!.GetValue<bool>());
            }
        }
    }

    [Fact]
    public void Max_length_truncates_and_reports_it()
    {
        var input = Path.Combine(temp, "in.json");
        File.WriteAllText(input, JsonSerializer.Serialize(new { sentences = new[] { "The quick brown fox jumps over the lazy dog." } }));
        var output = Path.Combine(temp, "out.json");
        var (code, error) = TeRunner.Run("tokenize", "--model", SharedData.Model("bert-tiny-uncased"), "--input", input, "--output", output, "--max-length", "5");
        Assert.True(code == 0, error);
        var item = JsonNode.Parse(File.ReadAllText(output))!["sentences"]![0]!;
        Assert.Equal(5, item["ids"]!.AsArray().Count);
        Assert.True(item["truncated"]!.GetValue<bool>());
    }
}

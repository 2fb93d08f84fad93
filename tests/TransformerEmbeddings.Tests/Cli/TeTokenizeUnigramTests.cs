using System.Text.Json;
using System.Text.Json.Nodes;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Cli;

/// <summary><c>te tokenize</c> on the SentencePiece Unigram fixture folder (XLM-R layout) against HF's corpus.</summary>
public sealed class TeTokenizeUnigramTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("te-tok-unigram-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    [Fact]
    public void Tokenize_writes_HuggingFace_fields_for_an_xlm_roberta_folder()
    {
        using var doc = TestFixtures.ReadJson("Unigram", "xlmr-unigram.corpus.json.gz");
        var root = doc.RootElement;
        // The hand-written hard cases and the first STS sentences, and the first pairs.
        var sentences = root.GetProperty("sentences").EnumerateArray().Take(400).Select(x => x.GetString()!).ToArray();
        var pairs = root.GetProperty("pairs").EnumerateArray().Take(50).Select(p => new[] { p[0].GetString()!, p[1].GetString()! }).ToArray();
        var input = Path.Combine(temp, "in.json");
        File.WriteAllText(input, JsonSerializer.Serialize(new { sentences, pairs }));
        var output = Path.Combine(temp, "out.json");
        var (code, error) = TeRunner.Run("tokenize", "--model", TestFixtures.Path("Unigram", "xlmr-unigram"), "--input", input, "--output", output);
        Assert.True(code == 0, error);

        var ours = JsonNode.Parse(File.ReadAllText(output))!;
        var expected = JsonNode.Parse(root.GetProperty("expected").GetRawText())!;
        foreach (var (batch, count) in new[] { ("sentences", sentences.Length), ("pairs", pairs.Length) })
        {
            var actual = ours[batch]!.AsArray();
            Assert.Equal(count, actual.Count);
            for (var i = 0; i < count; i++)
            {
                foreach (var field in new[] { "ids", "tokens", "offsets", "word_ids", "type_ids", "special_tokens_mask" })
                {
                    Assert.True(JsonNode.DeepEquals(expected[batch]![i]![field], actual[i]![field]),
                        $"{batch}[{i}].{field}: expected {expected[batch]![i]![field]!.ToJsonString()}, got {actual[i]![field]!.ToJsonString()}");
                }
            }
        }
    }
}

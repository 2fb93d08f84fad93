using System.Text.Json;
using System.Text.Json.Nodes;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Cli;

/// <summary><c>te tokenize</c>, <c>te dump</c> and <c>te embed</c> on the DistilBERT, MPNet and XLM-R fixture folders, against HF's tokenization and the reference.</summary>
public sealed class TeFamilyTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("te-family-cli-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    [Theory]
    [MemberData(nameof(FamilyFixtures.AllModels), MemberType = typeof(FamilyFixtures))]
    public void Tokenize_writes_HF_s_fields(string model)
    {
        var input = GoldenInputs.WriteInputFile(FamilyFixtures.Model(model), temp);
        var output = Path.Combine(temp, "out.json");
        var (code, error) = TeRunner.Run("tokenize", "--model", FamilyFixtures.Folder(model), "--input", input, "--output", output);
        Assert.True(code == 0, error);
        var golden = JsonNode.Parse(File.ReadAllText(FamilyFixtures.TokensFile(model)))!;
        var ours = JsonNode.Parse(File.ReadAllText(output))!;
        foreach (var batch in new[] { "sentences", "pairs" })
        {
            var expected = golden[batch]!.AsArray();
            var actual = ours[batch]!.AsArray();
            Assert.Equal(expected.Count, actual.Count);
            for (var i = 0; i < expected.Count; i++)
                foreach (var field in new[] { "ids", "tokens", "offsets", "word_ids", "type_ids", "special_tokens_mask" })
                    Assert.True(JsonNode.DeepEquals(expected[i]![field], actual[i]![field]),
                        $"{model} {batch}[{i}].{field}: expected {expected[i]![field]!.ToJsonString()}, got {actual[i]![field]!.ToJsonString()}");
        }
    }

    [Theory]
    [MemberData(nameof(FamilyFixtures.AllModels), MemberType = typeof(FamilyFixtures))]
    public void Dump_of_the_golden_inputs_matches_every_golden_tensor(string model)
    {
        var golden = FamilyFixtures.Golden(model);
        var input = GoldenInputs.WriteInputFile(FamilyFixtures.Model(model), temp);
        var output = Path.Combine(temp, "out.safetensors");
        var mask = golden["head_mask"];
        var maskFile = Path.Combine(temp, "head_mask.json");
        File.WriteAllText(maskFile, JsonSerializer.Serialize(Enumerable.Range(0, (int)mask.shape[0]).Select(l => mask[l].data<float>().ToArray())));
        var (code, error) = TeRunner.Run("dump", "--model", FamilyFixtures.Folder(model), "--input", input, "--output", output, "--head-mask", maskFile);
        Assert.True(code == 0, error);

        using var dumped = new GoldenTensorsFromFile(output);
        var compared = 0;
        foreach (var name in golden.Names.Where(n => !n.StartsWith("long.", StringComparison.Ordinal) && !n.StartsWith("st.", StringComparison.Ordinal) && n != "head_mask"))
        {
            var batch = name.StartsWith("pairs.", StringComparison.Ordinal) ? "pairs." : "";
            var local = name[batch.Length..];
            Assert.True(dumped.Has(name), $"te dump did not write {name}");
            var attention = golden[batch + "attention_mask"];
            var expected = golden[name];
            if (expected.dtype == ScalarType.Int64)
                TensorAssert.Equal(expected, dumped[name], expected.shape.SequenceEqual(attention.shape) ? attention : null, $"{model} {name}");
            else
            {
                var sequenceDim = local.Split('.')[0] is "attentions" or "query" or "key" or "value" or "context" ? 2 : 1;
                TensorAssert.Close(expected, dumped[name], expected.dim() == 2 ? null : attention, 1e-4, $"{model} {name}", sequenceDim);
            }
            compared++;
        }
        Assert.True(compared >= 20, $"only {compared} tensors compared");
    }

    [Theory]
    [InlineData("distilbert-tiny", null)]
    [InlineData("mpnet-tiny", null)]
    [InlineData("xlmr-tiny", null)]
    [InlineData("xlmr-tiny", "query")]
    public void Embed_with_a_family_s_sentence_transformers_folder_equals_encode(string model, string? prompt)
    {
        var m = FamilyFixtures.Model(model);
        var (sentences, _, longText) = GoldenInputs.For(m);
        var input = Path.Combine(temp, "texts.jsonl");
        File.WriteAllLines(input, sentences.Append(longText).Select(t => JsonSerializer.Serialize(t)));
        var output = Path.Combine(temp, "out.npy");
        string[] args = ["embed", "--model", FamilyFixtures.Folder(model), "--input", input, "--output", output, "--batch-size", "4"];
        if (prompt is not null) args = [.. args, "--prompt", prompt];
        var (code, error) = TeRunner.Run(args);
        Assert.True(code == 0, error);
        var (rows, columns, data) = TeEmbedTests.ReadNpy(output);
        var expected = FamilyFixtures.Golden(model)[prompt is null ? "st.embeddings" : $"st.{prompt}.embeddings"];
        Assert.Equal(expected.shape, new[] { rows, columns });
        var worst = expected.data<float>().ToArray().Zip(data).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(worst <= 1e-5, $"{model} max abs difference {worst:E2}");
    }
}

using System.Text.Json;
using TransformerEmbeddings.Tests.Hub;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Cli;

/// <summary>
/// The <c>te</c> tool with model ids, end to end: real <c>te</c> processes whose HF_ENDPOINT and HF_HUB_CACHE point at
/// the local Hub and a temporary cache, as a user's shell would.
/// </summary>
public sealed class TeHubTests : HubTestBase
{
    private Task<(int Code, string Output, string Error)> Te(IReadOnlyDictionary<string, string?>? extra, params string[] args)
    {
        var environment = TeEnvironment();
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>()) environment[k] = v;
        return TeProcess.RunAsync(environment, args);
    }

    private static readonly Dictionary<string, string?> Offline = new() { ["HF_HUB_OFFLINE"] = "1" };

    [Fact]
    public async Task Te_download_prints_the_snapshot_folder_and_fetches_only_what_is_missing()
    {
        var (code, output, error) = await Te(null, "download", MiniLm);
        Assert.True(code == 0, error);
        var folder = output.Trim();
        Assert.Equal(Snapshot(MiniLm, MiniLmMain), folder);
        Assert.True(File.Exists(Path.Combine(folder, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(folder, "1_Pooling", "config.json")));

        var count = Hub.Requests.Count;
        (code, output, error) = await Te(null, "download", MiniLm, "--revision", "main");
        Assert.True(code == 0, error);
        Assert.Equal(folder, output.Trim());
        Assert.Single(Hub.Requests.Skip(count));   // which commit is main now; nothing else

        (code, output, error) = await Te(Offline, "download", MiniLm);
        Assert.True(code == 0, error);
        Assert.Equal(folder, output.Trim());
        Assert.Single(Hub.Requests.Skip(count));
    }

    [Fact]
    public async Task Te_embed_with_a_model_id_equals_sentence_transformers_and_then_runs_offline()
    {
        var m = ModelCache.Get("all-MiniLM-L6-v2");
        var (sentences, _, longText) = GoldenInputs.For(m);
        var input = Path.Combine(Temp, "texts.jsonl");
        File.WriteAllLines(input, sentences.Append(longText).Select(t => JsonSerializer.Serialize(t)));
        var expected = ModelCache.Golden("all-MiniLM-L6-v2")["st.embeddings"].data<float>().ToArray();

        foreach (var environment in new[] { null, Offline })
        {
            var output = Path.Combine(Temp, $"out-{environment is null}.npy");
            var count = Hub.Requests.Count;
            var (code, _, error) = await Te(environment, "embed", "--model", MiniLm, "--input", input, "--output", output);
            Assert.True(code == 0, error);
            var (_, _, data) = TeEmbedTests.ReadNpy(output);
            var worst = expected.Zip(data).Max(p => Math.Abs(p.First - p.Second));
            Assert.True(data.Length == expected.Length && worst <= 1e-5, $"max abs difference to st.embeddings {worst:E2}");
            if (environment is not null) Assert.Equal(count, Hub.Requests.Count);
        }
    }

    [Fact]
    public async Task Te_tokenize_with_an_id_and_revision_equals_the_folder()
    {
        var input = GoldenInputs.WriteInputFile(ModelCache.Get("bert-tiny-uncased"), Temp);
        var byId = Path.Combine(Temp, "by-id.json");
        var byFolder = Path.Combine(Temp, "by-folder.json");
        var run = await Te(null, "tokenize", "--model", Tiny, "--revision", "v1.0", "--input", input, "--output", byId);
        Assert.True(run.Code == 0, run.Error);
        run = await Te(null, "tokenize", "--model", SharedData.Model("bert-tiny-uncased"), "--input", input, "--output", byFolder);
        Assert.True(run.Code == 0, run.Error);
        Assert.Equal(File.ReadAllText(byFolder), File.ReadAllText(byId));
    }

    [Fact]
    public async Task Te_errors_are_one_actionable_line_and_tokens_come_from_the_environment_or_the_token_file()
    {
        // A model that cannot be fetched is a model error (exit code 2), as one that cannot be loaded.
        var (code, _, error) = await Te(null, "embed", "--model", "test-org/no-such-model", "--input", "x.txt", "--output", "y.npy");
        Assert.Equal(2, code);
        Assert.StartsWith("te: error: No model 'test-org/no-such-model'", error);
        Assert.Single(error.Trim().Split('\n'));

        (code, _, error) = await Te(null, "download", Gated);
        Assert.Equal(2, code);
        Assert.Contains("HF_TOKEN", error);
        Assert.Contains("[AccessDenied]", error);

        (code, _, error) = await Te(new Dictionary<string, string?> { ["HF_TOKEN"] = FakeHub.Token }, "download", Gated);
        Assert.True(code == 0, error);

        var home = Path.Combine(Temp, "hf-home");
        Directory.CreateDirectory(home);
        await File.WriteAllTextAsync(Path.Combine(home, "token"), FakeHub.Token + "\n");
        (code, _, error) = await Te(null, "download", $"{Gated}@main", "--cache-dir", Path.Combine(Temp, "other-cache"));
        Assert.True(code == 0, error);
        Assert.True(Directory.Exists(Path.Combine(Temp, "other-cache", "models--test-org--gated")));
    }
}

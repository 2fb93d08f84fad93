using System.Text.Json;
using TransformerEmbeddings.Hub;
using TransformerEmbeddings.SentenceTransformers;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Hub;

/// <summary>
/// One cache for two clients: what HuggingFace's JavaScript client (<c>@huggingface/hub</c>) writes we read offline, and
/// what we write its <c>scanCacheDir</c> lists with the right revisions and files.
/// </summary>
public sealed class HubInteropTests : HubTestBase
{
    [Fact]
    public async Task A_cache_filled_by_huggingface_hub_js_is_used_offline()
    {
        var js = await HuggingFaceHubJs.RunAsync("snapshot", Hub.Endpoint.ToString().TrimEnd('/'), Cache, MiniLm, "main");
        var folder = js.GetProperty("folder").GetString()!;
        Assert.Equal(Snapshot(MiniLm, MiniLmMain), folder);
        var served = Hub.Repo(MiniLm).Commits[MiniLmMain].Files.Values;
        // The blobs are named as we name them: the same cache serves both.
        Assert.Equal(served.Select(f => f.Etag).Distinct().Order(StringComparer.Ordinal),
            Directory.GetFiles(Path.Combine(RepoFolder(MiniLm), "blobs")).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        var count = Hub.Requests.Count;
        string[] texts = ["Filled by JavaScript, read by .NET.", "One cache for every client."];
        using var embedder = SentenceEmbedder.Load(MiniLm, new ModelOptions { Hub = Options(offline: true) });
        using var reference = SentenceEmbedder.Load(SharedData.Model("all-MiniLM-L6-v2"));
        Assert.Equal(folder, embedder.Model.Folder);
        var expected = reference.Embed(texts);
        var actual = embedder.Embed(texts);
        Assert.Equal(expected.ToArray(), actual.ToArray());
        Assert.Equal(count, Hub.Requests.Count);

        // Online, we only ask which files exist (the JavaScript client records no .no_exist); no byte is fetched again.
        Assert.Equal(folder, await ModelHub.ResolveFolderAsync(MiniLm, Options()));
        Assert.All(Hub.Requests.Skip(count), r => Assert.True(r.Path.StartsWith("/api/models/", StringComparison.Ordinal), r.Path));
        Assert.Equal(folder, await ModelHub.ResolveFolderAsync(MiniLm, Options()));
    }

    [Fact]
    public async Task A_cache_we_filled_is_listed_by_huggingface_hub_js()
    {
        var miniLm = await ModelHub.DownloadAsync(MiniLm, Options());
        var tinyMain = await ModelHub.DownloadAsync(Tiny, Options());
        var tinyV1 = await ModelHub.DownloadAsync($"{Tiny}@v1.0", Options());

        var scan = await HuggingFaceHubJs.RunAsync("scan", Cache);
        Assert.Empty(scan.GetProperty("warnings").EnumerateArray());
        var repos = scan.GetProperty("repos").EnumerateArray().ToDictionary(r => r.GetProperty("id").GetString()!);
        Assert.Equal([MiniLm, Tiny], repos.Keys.Order(StringComparer.Ordinal));
        Assert.All(repos.Values, r => Assert.Equal("model", r.GetProperty("type").GetString()));

        AssertRevision(repos[MiniLm], MiniLmMain, ["main"], miniLm);
        AssertRevision(repos[Tiny], TinyMain, ["main"], tinyMain);
        AssertRevision(repos[Tiny], TinyV1, ["v1.0"], tinyV1);
        Assert.Single(repos[MiniLm].GetProperty("revisions").EnumerateArray());
        Assert.Equal(2, repos[Tiny].GetProperty("revisions").GetArrayLength());

        // The JavaScript client finds a file we cached at a commit without asking the Hub for it.
        var count = Hub.Requests.Count;
        var pointer = await HuggingFaceHubJs.RunAsync("file", Hub.Endpoint.ToString().TrimEnd('/'), Cache, MiniLm, MiniLmMain, "1_Pooling/config.json");
        Assert.Equal(Path.Combine(miniLm, "1_Pooling", "config.json"), pointer.GetProperty("path").GetString());
        Assert.Equal(count, Hub.Requests.Count);
    }

    private void AssertRevision(JsonElement repo, string commit, string[] refs, string snapshot)
    {
        var revision = repo.GetProperty("revisions").EnumerateArray().Single(r => r.GetProperty("commit").GetString() == commit);
        Assert.Equal(refs, revision.GetProperty("refs").EnumerateArray().Select(r => r.GetString()!));
        // scanCacheDir lists the snapshot's top-level files, each resolved to its blob.
        var files = revision.GetProperty("files").EnumerateArray().ToList();
        Assert.Equal(Directory.GetFiles(snapshot).Select(Path.GetFileName).Order(StringComparer.Ordinal),
            files.Select(f => f.GetProperty("name").GetString()).Order(StringComparer.Ordinal));
        var blobs = Path.Combine(RepoFolder(repo.GetProperty("id").GetString()!), "blobs");
        foreach (var f in files)
        {
            var name = f.GetProperty("name").GetString()!;
            Assert.Equal(Path.GetFullPath(blobs), Path.GetDirectoryName(f.GetProperty("blob").GetString()));
            Assert.Equal(File.ReadAllBytes(Path.Combine(snapshot, name)).Length, f.GetProperty("size").GetInt64());
        }
    }
}

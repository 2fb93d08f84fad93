using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Hub;
using TransformerEmbeddings.SentenceTransformers;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Hub;

/// <summary>Models by id against the local Hub: the cache layout, no second request, revisions, offline mode, what is fetched.</summary>
public sealed class HubDownloadTests : HubTestBase
{
    [Fact]
    public async Task First_download_fills_the_cache_in_huggingface_hubs_layout()
    {
        var folder = await ModelHub.DownloadAsync(MiniLm, Options());

        var repo = RepoFolder(MiniLm);
        Assert.Equal(Snapshot(MiniLm, MiniLmMain), folder);
        Assert.Equal(MiniLmMain, File.ReadAllText(Path.Combine(repo, "refs", "main")));   // the sha, no newline
        var served = Hub.Repo(MiniLm).Commits[MiniLmMain].Files;
        var shared = SharedData.Model("all-MiniLM-L6-v2");
        var expected = Directory.EnumerateFiles(shared, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(shared, f).Replace('\\', '/')).Order(StringComparer.Ordinal).ToList();
        var inSnapshot = Directory.EnumerateFileSystemEntries(folder, "*", SearchOption.AllDirectories)
            .Where(p => !Directory.Exists(p) || new FileInfo(p).LinkTarget is not null)
            .Select(p => Path.GetRelativePath(folder, p).Replace('\\', '/')).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, inSnapshot);

        foreach (var file in expected)
        {
            var pointer = Path.Combine(folder, file);
            var etag = served[file].Etag;
            Assert.Equal(served[file].IsLfs ? served[file].Sha256 : FakeHub.GitSha1(File.ReadAllBytes(Path.Combine(shared, file))), etag);
            // A relative symlink into blobs/, named by the etag: sha256 for LFS files, the git blob sha1 for the rest.
            Assert.Equal(Path.GetRelativePath(Path.GetDirectoryName(pointer)!, Path.Combine(repo, "blobs", etag)), new FileInfo(pointer).LinkTarget);
            Assert.Equal(File.ReadAllBytes(Path.Combine(shared, file)), File.ReadAllBytes(pointer));
            Assert.True(File.Exists(Path.Combine(Cache, ".locks", "models--sentence-transformers--all-MiniLM-L6-v2", etag + ".lock")), $"no lock file for {file}");
        }
        Assert.Equal(expected.Select(f => served[f].Etag).Order(StringComparer.Ordinal),
            Directory.GetFiles(Path.Combine(repo, "blobs")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        // Optional files the repository lacks are recorded, so a later load need not ask.
        foreach (var absent in new[] { "added_tokens.json", "vocab.json", "merges.txt" })
            Assert.True(File.Exists(Path.Combine(repo, ".no_exist", MiniLmMain, absent)), $".no_exist lacks {absent}");
        // Only what the model needs was asked for.
        foreach (var unneeded in Unneeded)
            Assert.DoesNotContain(Hub.Requests, r => r.Path.Contains(unneeded.Replace("/", "%2F"), StringComparison.Ordinal) || r.Path.Contains(unneeded, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_second_load_makes_no_request()
    {
        var first = await ModelHub.ResolveFolderAsync(MiniLm, Options());
        var count = Hub.Requests.Count;
        Assert.True(count > 0);

        Assert.Equal(first, await ModelHub.ResolveFolderAsync(MiniLm, Options()));
        using (var embedder = SentenceEmbedder.Load(MiniLm, new ModelOptions { Hub = Options() }))
            Assert.Equal(first, embedder.Model.Folder);
        using (var model = TransformerModel.Load(MiniLm, new ModelOptions { Hub = Options() }))
            Assert.Equal(first, model.Folder);
        Assert.Equal(count, Hub.Requests.Count);

        // te download asks which commit main is now, and fetches nothing it has.
        Assert.Equal(first, await ModelHub.DownloadAsync(MiniLm, Options()));
        var asked = Assert.Single(Hub.Requests.Skip(count));
        Assert.StartsWith($"/api/models/{MiniLm}/revision/main", asked.Path);
    }

    [Fact]
    public async Task A_model_by_id_embeds_exactly_as_its_folder()
    {
        string[] texts = ["The quick brown fox jumps over the lazy dog.", "A model by name."];
        using var byId = SentenceEmbedder.Load(MiniLm, new ModelOptions { Hub = Options() });
        using var byFolder = SentenceEmbedder.Load(SharedData.Model("all-MiniLM-L6-v2"));
        Assert.True(byId.IsSentenceTransformersFolder);
        var expected = byFolder.Embed(texts);
        var actual = byId.Embed(texts);
        Assert.Equal(expected.ToArray(), actual.ToArray());
    }

    [Fact]
    public async Task Revisions_pin_by_branch_tag_and_sha()
    {
        var main = await ModelHub.ResolveFolderAsync(Tiny, Options());
        var old = await ModelHub.ResolveFolderAsync($"{Tiny}@old", Options());
        Assert.Equal(Snapshot(Tiny, TinyMain), main);
        Assert.Equal(Snapshot(Tiny, TinyV1), old);
        Assert.Equal(TinyMain, File.ReadAllText(Path.Combine(RepoFolder(Tiny), "refs", "main")));
        Assert.Equal(TinyV1, File.ReadAllText(Path.Combine(RepoFolder(Tiny), "refs", "old")));

        // A tag naming a cached commit costs one model-info request and no file request.
        var before = Hub.Requests.Count;
        Assert.Equal(old, await ModelHub.ResolveFolderAsync(Tiny, Options(revision: "v1.0")));
        Assert.Single(Hub.Requests.Skip(before));
        Assert.Equal(TinyV1, File.ReadAllText(Path.Combine(RepoFolder(Tiny), "refs", "v1.0")));
        // A full sha that is cached needs no request at all.
        before = Hub.Requests.Count;
        Assert.Equal(old, await ModelHub.ResolveFolderAsync($"{Tiny}@{TinyV1}", Options()));
        Assert.Equal(before, Hub.Requests.Count);

        using var roberta = TransformerModel.Load(Tiny, new ModelOptions { Hub = Options() });
        using var bert = TransformerModel.Load(Tiny, new ModelOptions { Hub = Options(revision: "old") });
        Assert.Equal("roberta", roberta.Config.ModelType);
        Assert.Equal("bert", bert.Config.ModelType);
    }

    [Fact]
    public async Task Revision_given_twice_differently_is_an_error()
    {
        var e = await Assert.ThrowsAsync<HubException>(() => ModelHub.ResolveFolderAsync($"{Tiny}@old", Options(revision: "main")));
        Assert.Equal(HubErrorKind.InvalidSetting, e.Kind);
        Assert.Contains("'old'", e.Message);
        Assert.Contains("'main'", e.Message);
        Assert.Empty(Hub.Requests);
    }

    [Fact]
    public async Task Offline_uses_only_the_cache_and_names_the_missing_file()
    {
        var empty = await Assert.ThrowsAsync<HubException>(() => ModelHub.ResolveFolderAsync(Tiny, Options(offline: true)));
        Assert.Equal(HubErrorKind.NotInCache, empty.Kind);
        Assert.Contains(Path.Combine("models--test-org--tiny", "refs", "main"), empty.Message);
        Assert.Contains("te download test-org/tiny", empty.Message);
        Assert.Empty(Hub.Requests);

        var folder = await ModelHub.ResolveFolderAsync(Tiny, Options());
        var count = Hub.Requests.Count;
        Assert.Equal(folder, await ModelHub.ResolveFolderAsync(Tiny, Options(offline: true)));
        using (var model = TransformerModel.Load(Tiny, new ModelOptions { Hub = Options(offline: true) }))
            Assert.Equal("roberta", model.Config.ModelType);

        File.Delete(Path.Combine(folder, "model.safetensors"));
        var missing = await Assert.ThrowsAsync<HubException>(() => ModelHub.ResolveFolderAsync(Tiny, Options(offline: true)));
        Assert.Equal(HubErrorKind.NotInCache, missing.Kind);
        Assert.Equal("model.safetensors", missing.File);
        Assert.Contains("lacks 'model.safetensors'", missing.Message);
        var offlineDownload = await Assert.ThrowsAsync<HubException>(() => ModelHub.DownloadAsync(Tiny, Options(offline: true)));
        Assert.Equal(HubErrorKind.NotInCache, offlineDownload.Kind);
        Assert.Equal(count, Hub.Requests.Count);

        // Online again: the blob is still cached, so the link comes back without fetching any bytes.
        Assert.Equal(folder, await ModelHub.ResolveFolderAsync(Tiny, Options()));
        Assert.True(File.Exists(Path.Combine(folder, "model.safetensors")));
        Assert.DoesNotContain(Hub.Requests.Skip(count), r => r.Method == "GET" && !r.Path.StartsWith("/api/models/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_link_whose_blob_was_removed_counts_as_missing()
    {
        var folder = await ModelHub.ResolveFolderAsync($"{Tiny}@v1.0", Options());
        var weights = Hub.Repo(Tiny).Commits[TinyV1].Files["model.safetensors"];
        File.Delete(Path.Combine(RepoFolder(Tiny), "blobs", weights.Etag));

        var offline = await Assert.ThrowsAsync<HubException>(() => ModelHub.ResolveFolderAsync($"{Tiny}@v1.0", Options(offline: true)));
        Assert.Equal("model.safetensors", offline.File);
        var before = Hub.ContentRequests(weights).Count;
        Assert.Equal(folder, await ModelHub.ResolveFolderAsync($"{Tiny}@v1.0", Options()));
        Assert.Single(Hub.ContentRequests(weights).Skip(before));
        Assert.Equal(File.ReadAllBytes(Path.Combine(SharedData.Model("bert-tiny-uncased"), "model.safetensors")), File.ReadAllBytes(Path.Combine(folder, "model.safetensors")));
    }

    [Fact]
    public async Task A_sharded_model_brings_its_index_and_shards_and_loads_as_its_folder()
    {
        var folder = await ModelHub.ResolveFolderAsync(Sharded, Options());
        Assert.True(File.Exists(Path.Combine(folder, "model.safetensors.index.json")));
        Assert.True(File.Exists(Path.Combine(folder, "model-00001-of-00002.safetensors")));
        Assert.True(File.Exists(Path.Combine(folder, "model-00002-of-00002.safetensors")));

        using var byId = TransformerModel.Load(Sharded, new ModelOptions { Hub = Options(offline: true) });
        using var byFolder = TransformerModel.Load(SharedData.Model("bert-tiny-cased-sharded"));
        using var a = byId.Encode(["Sharded weights, fetched by name."]);
        using var b = byFolder.Encode(["Sharded weights, fetched by name."]);
        Assert.Equal(b.LastHiddenState.data<float>().ToArray(), a.LastHiddenState.data<float>().ToArray());
    }

    [Fact]
    public async Task Without_symlinks_the_snapshot_holds_copies()
    {
        var folder = await ModelHub.ResolveFolderAsync($"{Tiny}@v1.0", Options() with { Symlinks = false });
        foreach (var file in Directory.GetFiles(folder))
        {
            Assert.Null(new FileInfo(file).LinkTarget);
            Assert.Equal(File.ReadAllBytes(Path.Combine(SharedData.Model("bert-tiny-uncased"), Path.GetFileName(file))), File.ReadAllBytes(file));
        }
        using var model = TransformerModel.Load(folder);
        Assert.Equal("bert", model.Config.ModelType);
    }

    [Fact]
    public async Task Progress_counts_every_byte_up_to_the_total()
    {
        var reports = new List<DownloadProgress>();
        var progress = new SynchronousProgress(reports.Add);
        await ModelHub.DownloadAsync($"{Tiny}@v1.0", Options(progress: progress));

        Assert.NotEmpty(reports);
        var last = reports[^1];
        var files = Hub.Repo(Tiny).Commits[TinyV1].Files.Values;
        Assert.Equal(files.Sum(f => f.Size), last.TotalBytes);
        Assert.Equal(last.TotalBytes, last.Bytes);
        Assert.Equal(files.Count(), last.FileCount);
        Assert.Equal(last.FileCount, last.FilesDone);
        for (var i = 1; i < reports.Count; i++) Assert.True(reports[i].Bytes >= reports[i - 1].Bytes, "bytes went backwards");
        Assert.All(reports, r => Assert.InRange(r.FileBytes, 0, r.FileSize));
    }

    [Fact]
    public async Task An_existing_folder_wins_over_an_id_of_the_same_name()
    {
        var root = Path.Combine(Environment.CurrentDirectory, $"te-hub-local-{Guid.NewGuid():N}");
        try
        {
            var local = Path.Combine(root, "tiny");
            Directory.CreateDirectory(local);
            var relative = $"{Path.GetFileName(root)}/tiny";
            Assert.True(ModelId.TryParse(relative, out _));
            Assert.Equal(relative, await ModelHub.ResolveFolderAsync(relative, Options()));
            Assert.Equal(relative, ModelHub.ResolveFolder(relative, Options()));
            Assert.Empty(Hub.Requests);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void A_missing_path_that_is_no_id_keeps_the_folder_error()
    {
        var path = Path.Combine(Temp, "no-such-model");
        Assert.Equal(path, ModelHub.ResolveFolder(path, Options()));
        var e = Assert.Throws<ModelConfigurationException>(() => TransformerModel.Load(path, new ModelOptions { Hub = Options() }));
        Assert.Contains("does not exist", e.Message);
        Assert.Empty(Hub.Requests);
    }

    [Fact]
    public async Task A_model_without_safetensors_is_refused_before_any_weights_download()
    {
        var e = await Assert.ThrowsAsync<HubException>(() => ModelHub.ResolveFolderAsync(BinOnly, Options()));
        Assert.Equal(HubErrorKind.NoSafetensorsWeights, e.Kind);
        Assert.Contains("pytorch_model.bin", e.Message);
        Assert.Contains("safetensors", e.Message);
        Assert.DoesNotContain(Hub.Requests, r => r.Path.Contains("pytorch_model.bin", StringComparison.Ordinal));
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; tests want each report in order, at once.</summary>
    private sealed class SynchronousProgress(Action<DownloadProgress> report) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => report(value);
    }
}

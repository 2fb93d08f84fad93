using System.Net;
using System.Net.Sockets;
using TransformerEmbeddings.Hub;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Hub;

/// <summary>What goes wrong on the way: dropped connections, bad bytes, concurrent downloads, refusals, no network, no disk.</summary>
public sealed class HubFailureTests : HubTestBase
{
    private FakeFile TinyWeights => Hub.Repo(Tiny).Commits[TinyV1].Files["model.safetensors"];

    private string Blob(FakeFile file) => Path.Combine(RepoFolder(Tiny), "blobs", file.Etag);

    private void AssertWhole(string folder)
    {
        var weights = Path.Combine(folder, "model.safetensors");
        Assert.Equal(File.ReadAllBytes(Path.Combine(SharedData.Model("bert-tiny-uncased"), "model.safetensors")), File.ReadAllBytes(weights));
        Assert.Empty(Directory.GetFiles(Path.Combine(RepoFolder(Tiny), "blobs"), "*.incomplete"));
    }

    [Fact]
    public async Task A_connection_dropped_mid_file_resumes_with_a_range_request()
    {
        Hub.Cdn = r => r.Etag == TinyWeights.Etag && r.Index == 0 ? new CdnPlan(DropAfter: 1_000_000) : new CdnPlan();
        var folder = await ModelHub.ResolveFolderAsync($"{Tiny}@v1.0", Options());

        AssertWhole(folder);
        var gets = Hub.ContentRequests(TinyWeights);
        Assert.Equal(2, gets.Count);
        Assert.Null(gets[0].Range);
        Assert.NotNull(gets[1].Range);
        var resumedAt = long.Parse(gets[1].Range!["bytes=".Length..].TrimEnd('-'));
        Assert.InRange(resumedAt, 1, 1_000_000);
    }

    [Fact]
    public async Task A_download_that_keeps_breaking_fails_keeps_its_part_and_the_next_try_resumes_it()
    {
        Hub.Cdn = r => r.Etag == TinyWeights.Etag ? new CdnPlan(DropAfter: 400_000) : new CdnPlan();
        var e = await Assert.ThrowsAsync<HubException>(() => ModelHub.ResolveFolderAsync($"{Tiny}@v1.0", Options()));
        Assert.Equal(HubErrorKind.NetworkUnavailable, e.Kind);
        Assert.Equal("model.safetensors", e.File);
        Assert.Contains("resumes", e.Message);
        Assert.False(File.Exists(Blob(TinyWeights)));
        Assert.False(File.Exists(Path.Combine(Snapshot(Tiny, TinyV1), "model.safetensors")));
        var partial = new FileInfo(Blob(TinyWeights) + ".incomplete").Length;
        Assert.InRange(partial, 1, TinyWeights.Size - 1);

        Hub.Cdn = null;
        var before = Hub.ContentRequests(TinyWeights).Count;
        var folder = await ModelHub.ResolveFolderAsync($"{Tiny}@v1.0", Options());
        AssertWhole(folder);
        var resumed = Assert.Single(Hub.ContentRequests(TinyWeights).Skip(before));
        Assert.Equal($"bytes={partial}-", resumed.Range);
    }

    [Fact]
    public async Task A_file_failing_its_sha256_is_rejected_and_nothing_corrupt_is_kept()
    {
        Hub.Cdn = r => new CdnPlan(Corrupt: r.Etag == TinyWeights.Etag);
        var e = await Assert.ThrowsAsync<HubException>(() => ModelHub.ResolveFolderAsync($"{Tiny}@v1.0", Options()));
        Assert.Equal(HubErrorKind.IntegrityCheckFailed, e.Kind);
        Assert.Contains("sha256", e.Message);
        Assert.Contains(TinyWeights.Sha256, e.Message);
        Assert.False(File.Exists(Blob(TinyWeights)));
        Assert.False(File.Exists(Blob(TinyWeights) + ".incomplete"));
        Assert.False(File.Exists(Path.Combine(Snapshot(Tiny, TinyV1), "model.safetensors")));

        Hub.Cdn = null;
        AssertWhole(await ModelHub.ResolveFolderAsync($"{Tiny}@v1.0", Options()));
    }

    [Fact]
    public async Task A_bad_partial_file_is_downloaded_again_from_the_start()
    {
        var blobs = Path.Combine(RepoFolder(Tiny), "blobs");
        Directory.CreateDirectory(blobs);
        await File.WriteAllBytesAsync(Blob(TinyWeights) + ".incomplete", Enumerable.Repeat((byte)7, 1000).ToArray());

        AssertWhole(await ModelHub.ResolveFolderAsync($"{Tiny}@v1.0", Options()));
        var gets = Hub.ContentRequests(TinyWeights);
        Assert.Equal(2, gets.Count);
        Assert.Equal("bytes=1000-", gets[0].Range);
        Assert.Null(gets[1].Range);
    }

    [Fact]
    public async Task Two_concurrent_downloads_share_one_fetch_of_each_blob()
    {
        Hub.Cdn = _ => new CdnPlan(ChunkDelay: TimeSpan.FromMilliseconds(4));
        var both = await Task.WhenAll(
            Task.Run(() => ModelHub.DownloadAsync($"{Tiny}@v1.0", Options())),
            Task.Run(() => ModelHub.DownloadAsync($"{Tiny}@v1.0", Options())));

        Assert.Equal(both[0], both[1]);
        AssertWhole(both[0]);
        Assert.Single(Hub.ContentRequests(TinyWeights));
    }

    [Fact]
    public async Task Two_te_download_processes_share_one_fetch_of_each_blob()
    {
        Hub.Cdn = _ => new CdnPlan(ChunkDelay: TimeSpan.FromMilliseconds(4));
        var runs = await Task.WhenAll(RunTeAsync("download", $"{Tiny}@v1.0"), RunTeAsync("download", $"{Tiny}@v1.0"));

        foreach (var (code, output, error) in runs) Assert.True(code == 0, error);
        Assert.Equal(Snapshot(Tiny, TinyV1), runs[0].Output.Trim());
        Assert.Equal(runs[0].Output, runs[1].Output);
        AssertWhole(Snapshot(Tiny, TinyV1));
        Assert.Single(Hub.ContentRequests(TinyWeights));
    }

    [Fact]
    public async Task A_gated_model_without_a_token_says_how_to_give_one()
    {
        var e = await Assert.ThrowsAsync<HubException>(() => ModelHub.ResolveFolderAsync(Gated, Options()));
        Assert.Equal(HubErrorKind.AccessDenied, e.Kind);
        Assert.Contains("HTTP 401", e.Message);
        Assert.Contains("gated", e.Message);
        Assert.Contains("HF_TOKEN", e.Message);
        Assert.Contains("no token was sent", e.Message);

        var wrong = await Assert.ThrowsAsync<HubException>(() => ModelHub.ResolveFolderAsync(Gated, Options(token: "hf_not_allowed")));
        Assert.Equal(HubErrorKind.AccessDenied, wrong.Kind);
        Assert.Contains("HTTP 403", wrong.Message);
        Assert.Contains("the token from the options was sent", wrong.Message);

        var before = Hub.Requests.Count;
        var folder = await ModelHub.ResolveFolderAsync(Gated, Options(token: FakeHub.Token));
        Assert.True(File.Exists(Path.Combine(folder, "model.safetensors")));
        // The token goes to the Hub, never to the CDN.
        var requests = Hub.Requests.Skip(before).ToList();
        Assert.Contains(requests, r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal));
        Assert.All(requests.Where(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)), r => Assert.False(r.Authorized));
        Assert.All(requests.Where(r => !r.Path.StartsWith("/cdn/", StringComparison.Ordinal)), r => Assert.True(r.Authorized));
    }

    [Fact]
    public async Task Unknown_models_and_revisions_get_messages_that_name_them()
    {
        var repo = await Assert.ThrowsAsync<HubException>(() => ModelHub.ResolveFolderAsync("test-org/no-such-model", Options()));
        Assert.Equal(HubErrorKind.RepositoryNotFound, repo.Kind);
        Assert.Contains("No model 'test-org/no-such-model'", repo.Message);
        Assert.Contains("no local folder", repo.Message);
        Assert.Contains("Check the id", repo.Message);
        var signedIn = await Assert.ThrowsAsync<HubException>(() => ModelHub.ResolveFolderAsync("test-org/no-such-model", Options(token: FakeHub.Token)));
        Assert.Equal(HubErrorKind.RepositoryNotFound, signedIn.Kind);
        Assert.Contains("HTTP 404", signedIn.Message);

        var revision = await Assert.ThrowsAsync<HubException>(() => ModelHub.ResolveFolderAsync($"{Tiny}@v9", Options()));
        Assert.Equal(HubErrorKind.RevisionNotFound, revision.Kind);
        Assert.Contains("no revision 'v9'", revision.Message);
        Assert.False(Directory.Exists(Path.Combine(RepoFolder(Tiny), "snapshots")));
    }

    [Fact]
    public async Task No_network_suggests_offline_mode()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();   // nothing listens there now

        var e = await Assert.ThrowsAsync<HubException>(() => ModelHub.ResolveFolderAsync(Tiny, Options() with { Endpoint = $"http://127.0.0.1:{port}" }));
        Assert.Equal(HubErrorKind.NetworkUnavailable, e.Kind);
        Assert.Contains($"127.0.0.1:{port}", e.Message);
        Assert.Contains("HF_HUB_OFFLINE=1", e.Message);
    }

    [Fact]
    public async Task Too_little_disk_space_is_reported_before_downloading()
    {
        var e = await Assert.ThrowsAsync<HubException>(() => ModelHub.ResolveFolderAsync($"{Tiny}@v1.0", Options() with { FreeSpace = _ => 1000 }));
        Assert.Equal(HubErrorKind.DiskFull, e.Kind);
        Assert.Contains("1,000 free", e.Message);
        Assert.Contains("HF_HUB_CACHE", e.Message);
        Assert.DoesNotContain(Hub.Requests, r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_disk_that_fills_up_while_writing_is_reported_as_full()
    {
        // /dev/full answers every write with ENOSPC: the partial download is pointed there.
        var blobs = Path.Combine(RepoFolder(Tiny), "blobs");
        Directory.CreateDirectory(blobs);
        File.CreateSymbolicLink(Blob(TinyWeights) + ".incomplete", "/dev/full");

        var e = await Assert.ThrowsAsync<HubException>(() => ModelHub.ResolveFolderAsync($"{Tiny}@v1.0", Options()));
        Assert.Equal(HubErrorKind.DiskFull, e.Kind);
        Assert.Equal("model.safetensors", e.File);
        Assert.Contains("No room in", e.Message);
        Assert.False(File.Exists(Blob(TinyWeights)));
        Assert.False(File.Exists(Path.Combine(Snapshot(Tiny, TinyV1), "model.safetensors")));
    }

    private Task<(int Code, string Output, string Error)> RunTeAsync(params string[] args) => TeProcess.RunAsync(TeEnvironment(), args);
}

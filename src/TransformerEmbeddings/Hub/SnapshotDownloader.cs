using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace TransformerEmbeddings.Hub;

/// <summary>
/// Brings a model revision into the cache (huggingface_hub's <c>snapshot_download</c>, restricted to what the model
/// needs): the model info API gives the commit and file list, <c>refs/&lt;revision&gt;</c> records the commit, each
/// needed file is fetched into a blob and linked into <c>snapshots/&lt;commit&gt;/</c>, absent optional files are noted
/// in <c>.no_exist</c>. Loading looks in the cache first and goes online only for what is missing.
/// </summary>
internal sealed class SnapshotDownloader
{
    private readonly HubSettings settings;
    private readonly HubCache cache;
    private readonly HubApi api;
    private readonly BlobDownloader blobs;
    private readonly IProgress<DownloadProgress>? progress;
    private readonly ILogger logger;

    public SnapshotDownloader(HubSettings settings, HubOptions options)
    {
        this.settings = settings;
        cache = new HubCache(settings.CacheDirectory, options.Symlinks);
        api = new HubApi(settings);
        logger = options.Logger ?? NullLogger.Instance;
        progress = options.Progress;
        blobs = new BlobDownloader(api, cache, logger, options.FreeSpace ?? BlobDownloader.DiskFreeSpace);
    }

    /// <summary>The snapshot folder from the cache when it holds the whole model, else downloaded (never online when offline).</summary>
    public async Task<string> ResolveAsync(ModelId id, string revision, CancellationToken cancel)
    {
        var (snapshot, missing) = FromCache(id, revision, strict: !settings.Offline);
        if (missing is null) return snapshot!;
        if (settings.Offline) throw NotInCache(id, revision, snapshot, missing);
        return await DownloadAsync(id, revision, cancel).ConfigureAwait(false);
    }

    /// <summary>Asks the Hub what the revision is now and fetches whatever of it the cache lacks (offline: the cached snapshot).</summary>
    public async Task<string> DownloadAsync(ModelId id, string revision, CancellationToken cancel)
    {
        if (settings.Offline)
        {
            var (cached, missing) = FromCache(id, revision, strict: false);
            return missing is null ? cached! : throw NotInCache(id, revision, cached, missing);
        }

        var info = await api.ModelInfoAsync(id, revision, cancel).ConfigureAwait(false);
        var commit = info.Commit;
        Directory.CreateDirectory(Path.Combine(cache.RepositoryFolder(id), "refs"));   // scanners expect it, even for a pinned sha
        if (revision != commit) cache.WriteRef(id, revision, commit);
        var snapshot = cache.SnapshotFolder(id, commit);
        Directory.CreateDirectory(snapshot);
        logger.LogInformation("{Model}@{Revision} is commit {Commit}", id.Repository, revision, commit);

        // modules.json and a weights index decide what else is needed, so they come first.
        async Task<string> Read(string file)
        {
            var local = cache.SnapshotFile(id, commit, file);
            if (!HubCache.IsPresent(local))
            {
                var meta = await MetadataAsync(id, commit, file, cancel).ConfigureAwait(false);
                await blobs.FetchAsync(id, file, meta, _ => { }, cancel).ConfigureAwait(false);
                cache.Link(id, commit, file, meta.Etag);
            }
            return local;
        }
        var (needed, absent) = await ModelFiles.SelectAsync(id, info.Files.Select(f => f.Path).ToList(), Read).ConfigureAwait(false);

        var pending = new List<(string File, FileMetadata Meta)>();
        foreach (var file in needed)
        {
            if (HubCache.IsPresent(cache.SnapshotFile(id, commit, file))) continue;
            var meta = await MetadataAsync(id, commit, file, cancel).ConfigureAwait(false);
            if (File.Exists(cache.BlobPath(id, meta.Etag)))
                cache.Link(id, commit, file, meta.Etag);   // the same content is cached from another revision
            else
                pending.Add((file, meta));
        }

        var total = pending.Sum(p => p.Meta.Size);
        long before = 0;
        for (var i = 0; i < pending.Count; i++)
        {
            var (file, meta) = pending[i];
            logger.LogInformation("Downloading {File} of {Model} ({Size:N0} bytes)", file, id.Repository, meta.Size);
            var done = i;
            var offset = before;
            await blobs.FetchAsync(id, file, meta,
                bytes => progress?.Report(new DownloadProgress(id.Repository, file, bytes, meta.Size, offset + bytes, total, done, pending.Count)),
                cancel).ConfigureAwait(false);
            cache.Link(id, commit, file, meta.Etag);
            before += meta.Size;
            progress?.Report(new DownloadProgress(id.Repository, file, meta.Size, meta.Size, before, total, i + 1, pending.Count));
        }
        foreach (var file in absent) cache.MarkMissing(id, commit, file);
        return snapshot;
    }

    private async Task<FileMetadata> MetadataAsync(ModelId id, string commit, string file, CancellationToken cancel)
    {
        var meta = await api.FileMetadataAsync(id, commit, file, cancel).ConfigureAwait(false);
        if (meta.Commit is { } served && served != commit)
            throw new HubException(HubErrorKind.ServerError, id.ToString(), file,
                $"Asked for '{file}' of {id.Repository} at commit {commit}, the Hub served commit {served} (X-Repo-Commit); try again.");
        return meta;
    }

    /// <summary>The cached snapshot of a revision and the first file it lacks (null when whole); the ref file when the revision is unknown.</summary>
    private (string? Snapshot, string? Missing) FromCache(ModelId id, string revision, bool strict)
    {
        var commit = cache.CommitOf(id, revision);
        if (commit is null) return (null, Path.GetRelativePath(cache.Root, cache.RefPath(id, revision)));
        var snapshot = cache.SnapshotFolder(id, commit);
        if (!Directory.Exists(snapshot)) return (null, Path.GetRelativePath(cache.Root, snapshot));
        return (snapshot, ModelFiles.FirstMissing(snapshot, f => cache.IsMarkedMissing(id, commit, f), strict));
    }

    private HubException NotInCache(ModelId id, string revision, string? snapshot, string missing)
    {
        var where = snapshot is null
            ? $"the cache {cache.Root} has no revision '{revision}' of {id.Repository} ({missing} is missing)"
            : $"the cached snapshot {snapshot} of {id.Repository}@{revision} lacks '{missing}'";
        return new HubException(HubErrorKind.NotInCache, id.ToString(), missing,
            $"Offline (HF_HUB_OFFLINE or HubOptions.Offline) and {where}. Download the model once where the Hub is reachable " +
            $"(te download {id.Repository}{(revision == "main" ? "" : $" --revision {revision}")}) into this cache, or unset HF_HUB_OFFLINE.");
    }
}

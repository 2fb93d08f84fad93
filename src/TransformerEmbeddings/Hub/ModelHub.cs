namespace TransformerEmbeddings.Hub;

/// <summary>
/// Models by HuggingFace id, through the cache huggingface_hub shares with Python and JavaScript. An existing folder
/// always wins; otherwise <c>org/name[@revision]</c> is looked up in the cache and whatever the model lacks is downloaded.
/// <code>
/// string folder = ModelHub.ResolveFolder("sentence-transformers/all-MiniLM-L6-v2");
/// string pinned = await ModelHub.DownloadAsync("sentence-transformers/all-MiniLM-L6-v2", new HubOptions { Revision = "main" });
/// </code>
/// <see cref="TransformerModel.Load"/> and <see cref="SentenceEmbedder.Load(string, ModelOptions?)"/>
/// call <see cref="ResolveFolder"/> themselves (options in <see cref="ModelOptions.Hub"/>).
/// </summary>
public static class ModelHub
{
    /// <summary>
    /// The folder to load: <paramref name="folderOrId"/> itself when it exists on disk or is not a model id; else the
    /// cached snapshot of the id's revision, downloading what it lacks first (no request when the cache has the whole model).
    /// </summary>
    /// <param name="folderOrId">A model folder, or a model id (<c>org/name</c>, optional <c>@revision</c>).</param>
    /// <param name="options">Revision, offline mode, cache, endpoint, token, progress; the environment's when null.</param>
    /// <param name="cancel">Stops a download (what arrived is kept and resumes next time).</param>
    /// <returns>A folder path (for an id, <c>…/models--org--name/snapshots/&lt;commit&gt;</c>).</returns>
    /// <exception cref="HubException">The model cannot be found, reached, stored, or (offline) is not cached.</exception>
    public static string ResolveFolder(string folderOrId, HubOptions? options = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(folderOrId);
        if (IsLocal(folderOrId) || !ModelId.TryParse(folderOrId, out _)) return folderOrId;
        // The download is asynchronous; a pool thread keeps a caller's synchronization context out of it.
        return Task.Run(() => ResolveFolderAsync(folderOrId, options, cancel), cancel).GetAwaiter().GetResult();
    }

    /// <inheritdoc cref="ResolveFolder"/>
    public static async Task<string> ResolveFolderAsync(string folderOrId, HubOptions? options = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(folderOrId);
        if (IsLocal(folderOrId) || !ModelId.TryParse(folderOrId, out var id)) return folderOrId;
        options ??= new HubOptions();
        var revision = RevisionOf(id, options);
        return await new SnapshotDownloader(HubSettings.Resolve(options), options).ResolveAsync(id.WithRevision(revision), revision, cancel).ConfigureAwait(false);
    }

    /// <summary>
    /// Downloads what a model needs into the cache, like <c>huggingface-cli download</c>: always asks the Hub which commit
    /// the revision is now (offline: returns the cached snapshot), then fetches only the files the cache lacks.
    /// </summary>
    /// <param name="modelId"><c>org/name</c>, optional <c>@revision</c>.</param>
    /// <param name="options">Revision, cache, endpoint, token, progress; the environment's when null.</param>
    /// <param name="cancel">Stops the download (what arrived is kept and resumes next time).</param>
    /// <returns>The snapshot folder, <c>…/models--org--name/snapshots/&lt;commit&gt;</c>.</returns>
    /// <exception cref="HubException">The id is invalid, or the model cannot be found, reached or stored.</exception>
    public static async Task<string> DownloadAsync(string modelId, HubOptions? options = null, CancellationToken cancel = default)
    {
        var id = ModelId.Parse(modelId);
        options ??= new HubOptions();
        var revision = RevisionOf(id, options);
        return await new SnapshotDownloader(HubSettings.Resolve(options), options).DownloadAsync(id.WithRevision(revision), revision, cancel).ConfigureAwait(false);
    }

    /// <summary>What <c>Load</c> calls first: the folder for a folder or id, logging to the model's logger unless the hub options name one.</summary>
    internal static string ResolveForLoad(string folderOrId, ModelOptions options)
    {
        var hub = options.Hub ?? new HubOptions();
        return ResolveFolder(folderOrId, hub.Logger is null && options.Logger is not null ? hub with { Logger = options.Logger } : hub);
    }

    // Anything on disk by that name is the user's, never a model id.
    private static bool IsLocal(string path) => Directory.Exists(path) || File.Exists(path);

    private static string RevisionOf(ModelId id, HubOptions options)
    {
        if (id.Revision is not null && options.Revision is not null && id.Revision != options.Revision)
            throw new HubException(HubErrorKind.InvalidSetting, id.ToString(), null,
                $"'{id}' names revision '{id.Revision}' but the options name '{options.Revision}'; give the revision once.");
        return id.Revision ?? options.Revision ?? "main";
    }
}

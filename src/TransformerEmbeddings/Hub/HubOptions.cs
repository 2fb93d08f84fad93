using Microsoft.Extensions.Logging;

namespace TransformerEmbeddings.Hub;

/// <summary>
/// Where models given by id come from. Every setting left null falls back to huggingface_hub's environment variables,
/// so one cache and one token serve Python, JavaScript and .NET (docs/hub.md).
/// </summary>
public sealed record HubOptions
{
    /// <summary>A branch, tag or commit sha; <c>main</c> when null. An <c>@revision</c> in the id means the same.</summary>
    public string? Revision { get; init; }

    /// <summary>Use only the cache, never the network; <c>HF_HUB_OFFLINE</c> (1/true/yes/on) when null.</summary>
    public bool? Offline { get; init; }

    /// <summary>The cache folder; <c>HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, else <c>~/.cache/huggingface/hub</c> when null.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>The Hub's address; <c>HF_ENDPOINT</c>, else <c>https://huggingface.co</c> when null.</summary>
    public string? Endpoint { get; init; }

    /// <summary>An access token for gated and private models; <c>HF_TOKEN</c>, else the token file (<c>$HF_HOME/token</c>) when null.</summary>
    public string? Token { get; init; }

    /// <summary>Told about bytes and files as they download.</summary>
    public IProgress<DownloadProgress>? Progress { get; init; }

    /// <summary>Where downloads are logged (files fetched, waits on another process's download); nothing when null.</summary>
    public ILogger? Logger { get; init; }

    /// <summary>Reads an environment variable; the process's when null (tests run without the machine's HF_* settings).</summary>
    internal Func<string, string?>? Environment { get; init; }

    /// <summary>Free bytes at a folder; the disk's when null (tests simulate a full disk with it).</summary>
    internal Func<string, long>? FreeSpace { get; init; }

    /// <summary>Whether snapshots may link to blobs; false makes copies as where symlinks are impossible (tests).</summary>
    internal bool Symlinks { get; init; } = true;
}

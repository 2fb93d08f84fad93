namespace TransformerEmbeddings.Hub;

/// <summary>What the model info API says about a revision: its commit and its files (<c>siblings</c>).</summary>
/// <param name="Commit">The commit sha the revision points at.</param>
/// <param name="Files">Every file of the repository at that commit.</param>
internal sealed record RepoInfo(string Commit, IReadOnlyList<RepoFile> Files);

/// <summary>One file of a repository (<c>siblings[i]</c> with <c>blobs=true</c>).</summary>
/// <param name="Path">The repository path, <c>/</c>-separated.</param>
/// <param name="Size">Its size, when the API gave it.</param>
internal sealed record RepoFile(string Path, long? Size);

/// <summary>What a <c>HEAD /{repo}/resolve/{commit}/{file}</c> says, read as huggingface_hub reads it.</summary>
/// <param name="Commit">X-Repo-Commit.</param>
/// <param name="Etag">X-Linked-Etag, else ETag, without quotes or <c>W/</c>: the blob's name in the cache.</param>
/// <param name="Size">X-Linked-Size, else Content-Length.</param>
/// <param name="DownloadUrl">Where the bytes are: the redirect target (a CDN) or the resolve address itself.</param>
internal sealed record FileMetadata(string? Commit, string Etag, long Size, Uri DownloadUrl);

namespace TransformerEmbeddings.Hub;

/// <summary>
/// The cache folder exactly as huggingface_hub lays it out, so Python, JavaScript and .NET share it:
/// <code>
/// models--org--name/
///   refs/main                      the commit sha main pointed at (no newline)
///   blobs/&lt;etag&gt;                  file contents, named by LFS sha256 or git blob sha1
///   blobs/&lt;etag&gt;.incomplete       a download in progress (resumable)
///   snapshots/&lt;sha&gt;/&lt;file&gt;        relative symlinks to ../../blobs/&lt;etag&gt; (copies where symlinks are impossible)
///   .no_exist/&lt;sha&gt;/&lt;file&gt;        empty: the file does not exist at that commit
/// .locks/models--org--name/&lt;etag&gt;.lock
/// </code>
/// </summary>
internal sealed class HubCache(string root, bool symlinks = true)
{
    public string Root { get; } = root;

    public string RepositoryFolder(ModelId id) => Path.Combine(Root, id.CacheFolderName);

    public string SnapshotFolder(ModelId id, string commit) => Path.Combine(RepositoryFolder(id), "snapshots", commit);

    public string SnapshotFile(ModelId id, string commit, string file) => Path.Combine(SnapshotFolder(id, commit), Local(file));

    public string BlobPath(ModelId id, string etag) => Path.Combine(RepositoryFolder(id), "blobs", etag);

    public string LockPath(ModelId id, string etag) => Path.Combine(Root, ".locks", id.CacheFolderName, etag + ".lock");

    public string RefPath(ModelId id, string revision) => Path.Combine(RepositoryFolder(id), "refs", Local(revision));

    private string NoExistPath(ModelId id, string commit, string file) => Path.Combine(RepositoryFolder(id), ".no_exist", commit, Local(file));

    /// <summary>The commit a revision names in the cache: the sha itself, or what <c>refs/&lt;revision&gt;</c> holds; null when unknown.</summary>
    public string? CommitOf(ModelId id, string revision)
    {
        if (ModelId.IsCommitSha(revision)) return revision;
        var path = RefPath(id, revision);
        if (!File.Exists(path)) return null;
        var sha = File.ReadAllText(path).Trim();
        return ModelId.IsCommitSha(sha) ? sha : null;
    }

    /// <summary>Records what a branch or tag points at (written through a temporary file, so readers never see half a sha).</summary>
    public void WriteRef(ModelId id, string revision, string commit)
    {
        var path = RefPath(id, revision);
        if (File.Exists(path) && File.ReadAllText(path) == commit) return;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = TempName(path);
        File.WriteAllText(temp, commit);
        File.Move(temp, path, overwrite: true);
    }

    public bool IsMarkedMissing(ModelId id, string commit, string file) => File.Exists(NoExistPath(id, commit, file));

    /// <summary>Notes that a file does not exist at a commit, so later loads need not ask.</summary>
    public void MarkMissing(ModelId id, string commit, string file)
    {
        var path = NoExistPath(id, commit, file);
        if (File.Exists(path)) return;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, []);
    }

    /// <summary>Puts a blob into a snapshot: a relative symlink as huggingface_hub makes, or a copy where links fail.</summary>
    public void Link(ModelId id, string commit, string file, string etag)
    {
        var pointer = SnapshotFile(id, commit, file);
        var blob = BlobPath(id, etag);
        var folder = Path.GetDirectoryName(pointer)!;
        Directory.CreateDirectory(folder);
        // Made beside the target and renamed over it: a reader never sees a missing or half-made file.
        var temp = TempName(pointer);
        try
        {
            if (symlinks)
            {
                try
                {
                    File.CreateSymbolicLink(temp, Path.GetRelativePath(folder, blob));
                    File.Move(temp, pointer, overwrite: true);
                    return;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
                {
                    // Windows without symlink rights: copy, as huggingface_hub does.
                }
            }
            File.Copy(blob, temp, overwrite: true);
            File.Move(temp, pointer, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp) || IsLink(temp)) File.Delete(temp);
        }
    }

    /// <summary>Whether a snapshot file is there with content: a link whose blob was removed does not count.</summary>
    public static bool IsPresent(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is null ? info.Exists : info.ResolveLinkTarget(returnFinalTarget: true) is { Exists: true };
    }

    /// <summary>A repository path as a relative local path; rejects anything that would leave the snapshot.</summary>
    internal static string Local(string file)
    {
        var parts = file.Split('/');
        if (file.Length == 0 || file.Contains('\\') || file.Contains('\0') || Path.IsPathRooted(file)
            || parts.Any(p => p.Length == 0 || p == "." || p == ".."))
            throw new HubException(HubErrorKind.ServerError, null, file, $"The Hub named a file '{file}' that is not a plain relative path; refusing to write it.");
        return Path.Combine(parts);
    }

    private static string TempName(string path) => $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";

    private static bool IsLink(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget is not null;
        }
        catch (IOException)
        {
            return false;
        }
    }
}

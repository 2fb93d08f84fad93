using System.Text;

namespace TransformerEmbeddings.Configuration;

/// <summary>
/// Reading the files of a model folder, which come from anywhere: a file is refused before anything is allocated for it
/// when it is a folder, a symbolic link that loops or leads nowhere (.NET's <c>File.Exists</c> says true for both), larger
/// than its kind can plausibly be, or unreadable. Each caller says how a failure is reported (its exception type), so the
/// message always names the file.
/// </summary>
internal static class ModelFile
{
    /// <summary>config.json, modules.json, tokenizer_config.json and the like: kilobytes in practice.</summary>
    public const long MaxSettingsBytes = 16L << 20;

    /// <summary>tokenizer.json, vocab.txt, vocab.json, merges.txt, an index: tens of megabytes at most in practice.</summary>
    public const long MaxVocabularyBytes = 512L << 20;

    /// <summary>Makes the exception for a failure: the message (without the path) and the underlying error.</summary>
    public delegate Exception Failure(string message, Exception? inner);

    /// <summary>Whether a file is there (following links); throws for a folder in its place or a link that cannot be followed.</summary>
    public static bool Exists(string path, Failure fail)
    {
        var info = new FileInfo(path);
        if (Directory.Exists(path)) throw fail("a folder is where a file should be.", null);
        if (!info.Exists)
        {
            // A folder on the way that is a link to nowhere (or to itself) hides the file: say so, not "missing".
            for (var dir = info.Directory; dir is not null; dir = dir.Parent)
            {
                if (dir.LinkTarget is null || dir.Exists) continue;
                throw fail($"the folder '{dir.FullName}' on its path is a symbolic link that cannot be followed (a loop, or its target is missing).", null);
            }
            return false;
        }
        if (info.LinkTarget is null) return true;
        FileSystemInfo? target;
        try
        {
            target = info.ResolveLinkTarget(returnFinalTarget: true);
        }
        catch (IOException e)
        {
            throw fail($"a symbolic link that cannot be followed ({e.Message}); the folder is damaged or was copied with its links broken.", e);
        }
        if (target is null || !target.Exists || target is DirectoryInfo)
            throw fail($"a symbolic link to '{target?.FullName ?? info.LinkTarget}', which is not a file; the folder is damaged (an interrupted download or a removed blob).", null);
        return true;
    }

    /// <summary>The file's bytes, refused before reading when it is not a readable file of at most <paramref name="maxBytes"/> bytes.</summary>
    public static byte[] ReadAllBytes(string path, long maxBytes, Failure fail)
    {
        if (!Exists(path, fail)) throw fail("the file does not exist.", null);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 1);
            var length = stream.Length;
            if (length > maxBytes)
                throw fail($"{length:N0} bytes, more than the {maxBytes:N0} a file of this kind may hold; it is not a model file.", null);
            var bytes = new byte[length];
            stream.ReadExactly(bytes);
            return bytes;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw fail($"the file cannot be read: {e.Message}", e);
        }
    }

    /// <summary>The file as text (UTF-8, or the encoding its byte-order mark names), with the checks of <see cref="ReadAllBytes"/>.</summary>
    public static string ReadAllText(string path, long maxBytes, Failure fail)
    {
        var bytes = ReadAllBytes(path, maxBytes, fail);
        using var reader = new StreamReader(new MemoryStream(bytes), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// A path a file names inside a folder (a module's path in modules.json, a shard in an index), refused when it is
    /// absolute or climbs out of the folder (<c>..</c>): a folder downloaded from anywhere must not make the loader read
    /// elsewhere. Links inside the folder are followed as usual (the Hub cache's snapshots are links into its blobs).
    /// </summary>
    public static string Inside(string folder, string relative, Failure fail)
    {
        if (relative.Contains('\0'))
            throw fail($"the path '{relative.Replace("\0", "\\0")}' holds a NUL character.", null);
        if (Path.IsPathRooted(relative))
            throw fail($"the path '{relative}' is absolute; paths in a model folder are relative to it.", null);
        var root = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar);
        var full = Path.GetFullPath(Path.Combine(root, relative)).TrimEnd(Path.DirectorySeparatorChar);
        if (full != root && !full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw fail($"the path '{relative}' leads out of the model folder '{root}'; refusing to read it.", null);
        return full;
    }
}

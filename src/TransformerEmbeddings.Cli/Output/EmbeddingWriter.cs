using System.Text;

namespace TransformerEmbeddings.Cli.Output;

/// <summary>
/// Where <c>te embed</c> puts its rows, in input order. A file output is written under hidden partial names beside it
/// (<c>.NAME.partial</c>, plus <c>.partial.ids</c> and <c>.partial.job</c>) and renamed into place only when complete, so
/// a reader never sees a half file under the final name. The partial files are the run's durable state: a run killed at
/// any moment (SIGKILL included) resumes from the whole rows they hold (<see cref="Rows"/>), a torn last row cut off.
/// </summary>
internal abstract class EmbeddingWriter : IDisposable
{
    protected EmbeddingWriter(RowFormat format) => Format = format;

    /// <summary>What a row holds.</summary>
    public RowFormat Format { get; }

    /// <summary>Elements per row.</summary>
    public int Dimension => Format.Columns;

    /// <summary>How quantized rows read back (JSON: precision and int8/uint8 ranges), kept in the file where the format has room (safetensors metadata).</summary>
    public string? Quantization { get; set; }

    /// <summary>Rows written, those found by a resumed run included.</summary>
    public long Rows { get; protected set; }

    /// <summary>Appends one row: its id (raw JSON, or null for none given), its input position, its vector.</summary>
    public abstract void Write(string? id, long index, ReadOnlySpan<float> vector);

    /// <summary>Appends one quantized row (<see cref="Format"/> Int8 or UInt8): its id, its input position, its bytes.</summary>
    public abstract void Write(string? id, long index, ReadOnlySpan<byte> row);

    /// <summary>Makes everything written so far durable.</summary>
    public abstract void Checkpoint();

    /// <summary>Writes the final file (header included) and renames it into place.</summary>
    public abstract void Complete();

    public abstract void Dispose();

    /// <summary>Removes the partial files of an unfinished run (a failed fresh run leaves nothing behind).</summary>
    public virtual void Discard() { }

    /// <summary>
    /// Opens the output named by <paramref name="path"/>: <c>-</c> for JSON lines on standard output, else by extension
    /// <c>.npy</c>, <c>.safetensors</c> or <c>.jsonl</c>. With <paramref name="resume"/>, partial files of an earlier run
    /// with the same <paramref name="job"/> description are continued; without it they are started afresh.
    /// </summary>
    public static EmbeddingWriter Open(string path, RowFormat format, bool ids, bool resume, string job)
    {
        if (path == "-")
        {
            if (resume) throw new CliException("--resume needs an output file; standard output cannot be resumed.");
            return new JsonLinesWriter(Console.OpenStandardOutput(), format);
        }
        var kind = Path.GetExtension(path).ToLowerInvariant();
        if (kind is not (".npy" or ".safetensors" or ".jsonl" or ".ndjson"))
            throw new CliException($"unknown output format '{kind}' of '{path}'; use .npy, .safetensors, .jsonl, or - for JSON lines on standard output.");
        var files = new PartialFiles(path);
        files.Prepare(resume, job);
        return kind switch
        {
            ".npy" => new NpyWriter(files, format),
            ".safetensors" => new SafeTensorsEmbeddingWriter(files, format, ids),
            _ => new JsonLinesWriter(files, format),
        };
    }

    /// <summary>
    /// Closes a file on the way out of a failure: a flush that fails again (the disk is still full) must neither hide the
    /// first error nor keep the partial files from being removed.
    /// </summary>
    protected static void Quietly(IDisposable? file)
    {
        try
        {
            file?.Dispose();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Whole lines in a partial text file: cuts a torn last line and returns the count.</summary>
    protected static long TrimToWholeLines(FileStream stream)
    {
        var buffer = new byte[1 << 16];
        long lines = 0, end = 0, position = 0;
        stream.Position = 0;
        int n;
        while ((n = stream.Read(buffer)) > 0)
        {
            for (var i = 0; i < n; i++)
            {
                if (buffer[i] != (byte)'\n') continue;
                lines++;
                end = position + i + 1;
            }
            position += n;
        }
        stream.SetLength(end);
        stream.Position = end;
        return lines;
    }
}

/// <summary>The hidden files of one output: data, ids, the job description, and the finished file before its rename.</summary>
internal sealed class PartialFiles
{
    public PartialFiles(string path)
    {
        Target = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(Target)!;
        if (!Directory.Exists(dir)) throw new CliException($"output folder '{dir}' does not exist.");
        var stem = Path.Combine(dir, "." + Path.GetFileName(Target));
        Data = stem + ".partial";
        Ids = stem + ".partial.ids";
        Job = stem + ".partial.job";
        Final = stem + ".partial.final";
    }

    public string Target { get; }
    public string Data { get; }
    public string Ids { get; }
    public string Job { get; }
    public string Final { get; }

    /// <summary>Whether an earlier run's data is continued.</summary>
    public bool Resuming { get; private set; }

    private static readonly AsyncLocal<Func<string, FileMode, int, FileStream>?> opener = new();

    /// <summary>
    /// Opens the files of outputs written from this execution context instead of the file system (null: the file system).
    /// The reliability tests put a stream here whose disk fills up, to check that a failing disk ends the run cleanly and
    /// leaves a previous output untouched; async-local, so that other runs in the same process are not affected.
    /// </summary>
    internal static Func<string, FileMode, int, FileStream>? Opener
    {
        get => opener.Value;
        set => opener.Value = value;
    }

    /// <summary>Opens one of the output's files for writing (through <see cref="Opener"/> where one is set).</summary>
    public static FileStream Open(string path, FileMode mode, int buffer) =>
        opener.Value?.Invoke(path, mode, buffer)
        ?? new FileStream(path, mode, mode == FileMode.Create ? FileAccess.Write : FileAccess.ReadWrite, FileShare.None, buffer);

    public void Prepare(bool resume, string job)
    {
        if (resume && File.Exists(Job))
        {
            var previous = File.ReadAllText(Job, Encoding.UTF8);
            if (previous != job)
                throw new CliException($"--resume: the partial output '{Data}' was made by a run with other settings " +
                                       $"({Difference(previous, job)}); run with the same settings, or without --resume to start again.");
            Resuming = File.Exists(Data);
            if (Resuming) return;
        }
        Delete();
        // The job description first, through a rename: a resumed run only trusts data made under the same settings.
        var temp = Job + ".tmp";
        try
        {
            using (var s = Open(temp, FileMode.Create, 4096))
            {
                s.Write(Encoding.UTF8.GetBytes(job));
                s.Flush(flushToDisk: true);
            }
            File.Move(temp, Job, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A full disk can fail even this small file: leave nothing behind.
            if (File.Exists(temp)) File.Delete(temp);
            throw;
        }
    }

    /// <summary>Moves the finished file into place and removes the partial files.</summary>
    public void Commit(string finished)
    {
        File.Move(finished, Target, overwrite: true);
        Delete();
    }

    public void Delete()
    {
        foreach (var f in new[] { Data, Ids, Final, Job + ".tmp", Job })
            if (File.Exists(f)) File.Delete(f);
    }

    private static string Difference(string a, string b)
    {
        var x = a.Split('\n');
        var y = b.Split('\n');
        for (var i = 0; i < Math.Min(x.Length, y.Length); i++)
            if (x[i] != y[i]) return $"was {x[i].Trim()}, now {y[i].Trim()}";
        return "the descriptions differ";
    }
}

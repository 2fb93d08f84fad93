using TransformerEmbeddings.Cli.Output;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Reliability;

/// <summary>
/// A disk that fills up and an output that cannot be written (issue 26): <c>te embed</c> fails cleanly — one line on
/// stderr, exit code 3 — leaves the previous output byte for byte as it was and no partial files behind. The full disk
/// is injected (a stream that refuses bytes past a cap, as ENOSPC does); the real one, a small tmpfs, is
/// <c>te-reliability kills</c> (docs/reliability.md).
/// </summary>
public sealed class OutputFaultTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("te-fault-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    private string File_(string name) => Path.Combine(temp, name);

    /// <summary>A file whose disk holds only <paramref name="capacity"/> more bytes (what ENOSPC looks like to .NET).</summary>
    private sealed class FullDisk(string path, FileMode mode, int buffer, long capacity)
        : FileStream(path, mode, mode == FileMode.Create ? FileAccess.Write : FileAccess.ReadWrite, FileShare.None, buffer)
    {
        private long written;

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if ((written += buffer.Length) > capacity) throw new IOException($"No space left on device : '{Name}'");
            base.Write(buffer);
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void WriteByte(byte value) => Write([value]);
    }

    private string Input(int texts)
    {
        var all = StsBenchmark.Dev().SelectMany(p => new[] { p.A, p.B }).ToArray();
        File.WriteAllLines(File_("in.txt"), Enumerable.Range(0, texts).Select(i => all[i % all.Length]));
        return File_("in.txt");
    }

    private (int Code, string Error) Embed(string output, params string[] more) =>
        TeRunner.Run(["embed", "--model", SharedData.Model("bert-tiny-uncased"), "--input", Input(400), "--output", output, "--progress", "None", .. more]);

    private void AssertFailedCleanly(string output, byte[] previous, int code, string error, string problem)
    {
        Assert.True(code == 3, $"te exited {code}: {error}");
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("te: error: ", lines[0]);
        Assert.Contains(problem, lines[0]);
        Assert.Equal(previous, File.ReadAllBytes(output)); // the previous output, untouched
        Assert.Empty(Directory.GetFiles(temp, "." + Path.GetFileName(output) + "*"));
    }

    [Theory]
    [InlineData("out.npy", 128 + 64 * 4 * 100)] // the header and 100 of 400 rows fit
    [InlineData("out.npy", 10)]                 // not even the header
    [InlineData("out.safetensors", 64 * 4 * 300)]
    [InlineData("out.jsonl", 20_000)]
    public void A_disk_that_fills_up_fails_the_run_and_leaves_the_previous_output_untouched(string name, long capacity)
    {
        var output = File_(name);
        var previous = "the previous run's output, which a failed run must not touch"u8.ToArray();
        File.WriteAllBytes(output, previous);
        PartialFiles.Opener = (path, mode, buffer) => new FullDisk(path, mode, buffer, capacity);
        try
        {
            var (code, error) = Embed(output);
            AssertFailedCleanly(output, previous, code, error, "No space left on device");
        }
        finally
        {
            PartialFiles.Opener = null;
        }

        // With room again, the same command completes and replaces it.
        Assert.Equal(0, Embed(output).Code);
        Assert.NotEqual(previous, File.ReadAllBytes(output));
    }

    [Fact]
    public void A_disk_that_fills_up_during_a_resumed_run_keeps_what_was_durable_for_the_next_resume()
    {
        var output = File_("out.npy");
        Assert.Equal(0, Embed(output).Code);
        var expected = File.ReadAllBytes(output);
        File.Delete(output);

        PartialFiles.Opener = (path, mode, buffer) => new FullDisk(path, mode, buffer, 128 + 64 * 4 * 150);
        try
        {
            var (code, error) = Embed(output, "--resume");
            Assert.True(code == 3, $"te exited {code}: {error}");
            Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.False(File.Exists(output));
        }
        finally
        {
            PartialFiles.Opener = null;
        }
        Assert.Equal(0, Embed(output, "--resume").Code);
        Assert.Equal(expected, File.ReadAllBytes(output));
    }

    [Fact]
    public void An_output_that_cannot_be_written_fails_the_run_and_leaves_the_previous_output_untouched()
    {
        // Root ignores file permissions, so the unwritable places are ones no user can write: the partial file's name taken
        // by a folder, and the output's name taken by a folder (the rename at the end fails).
        var output = File_("out.npy");
        var previous = "previous"u8.ToArray();
        File.WriteAllBytes(output, previous);
        var blocker = Directory.CreateDirectory(File_(".out.npy.partial"));
        var (code, error) = Embed(output);
        Assert.True(code == 3, $"te exited {code}: {error}");
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(".out.npy.partial", error);
        Assert.Equal(previous, File.ReadAllBytes(output));
        blocker.Delete();

        var folder = Directory.CreateDirectory(File_("taken.npy"));
        File.WriteAllText(Path.Combine(folder.FullName, "keep.txt"), "kept");
        (code, error) = Embed(folder.FullName);
        Assert.True(code == 3, $"te exited {code}: {error}");
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("kept", File.ReadAllText(Path.Combine(folder.FullName, "keep.txt")));
        Assert.Empty(Directory.GetFiles(temp, ".taken.npy*"));
    }
}

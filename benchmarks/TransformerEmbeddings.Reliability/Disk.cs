using System.Diagnostics;
using System.Security.Cryptography;
using static TransformerEmbeddings.Reliability.Harness;

namespace TransformerEmbeddings.Reliability;

/// <summary>
/// <c>disk</c>: a real full disk and a real read-only one (a small tmpfs; needs root to mount). <c>te embed</c> into
/// it must fail with one line and exit code 3, leave the previous output byte for byte and no partial files (a fresh
/// run) or its durable rows (a <c>--resume</c> run, which then completes once there is room, byte-identical to a run
/// that never failed).
/// </summary>
internal static class Disk
{
    public static int Run(string[] args)
    {
        var texts = int.Parse(Option(args, "--texts", "3000"));
        var model = Option(args, "--model", Model("all-MiniLM-L6-v2"));
        var work = Option(args, "--work", Directory.CreateTempSubdirectory("te-disk-").FullName);
        var te = CopyOfTe(work);
        var sentences = StsSentences();
        var input = Path.Combine(work, "input.txt");
        File.WriteAllLines(input, Enumerable.Range(0, texts).Select(i => sentences[i % sentences.Count]));
        string[] Args(string output, bool resume = false) =>
            ["embed", "--model", model, "--input", input, "--output", output, "--progress", "None", .. resume ? new[] { "--resume" } : []];
        Console.WriteLine($"# disk: te embed of {texts:N0} texts into a full and a read-only tmpfs — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");

        var reference = Path.Combine(work, "reference.npy");
        var (code, error) = RunTe(te, Args(reference));
        if (code != 0) throw new InvalidOperationException($"the reference run exited {code}: {error}");
        var expected = File.ReadAllBytes(reference);

        var mount = Path.Combine(work, "small-disk");
        Directory.CreateDirectory(mount);
        // Room for the previous output and a third of the new one.
        var size = 64 * 1024 + expected.Length / 3;
        if (Sh("mount", "-t", "tmpfs", "-o", $"size={size}", "tmpfs", mount) != 0)
        {
            Console.WriteLine("Cannot mount a tmpfs (not root?): nothing measured.");
            return 2;
        }
        var ok = true;
        try
        {
            var output = Path.Combine(mount, "out.npy");
            var previous = RandomNumberGenerator.GetBytes(60 * 1024);
            File.WriteAllBytes(output, previous);

            (code, error) = RunTe(te, Args(output));
            ok &= Report("full disk, fresh run", code, error, previous, output, mount, expectLeftovers: false);

            (code, error) = RunTe(te, Args(output, resume: true));
            ok &= Report("full disk, --resume run", code, error, previous, output, mount, expectLeftovers: true);
            Sh("mount", "-o", $"remount,size={expected.Length * 2 + 128 * 1024}", mount);
            (code, error) = RunTe(te, Args(output, resume: true));
            var identical = code == 0 && File.ReadAllBytes(output).AsSpan().SequenceEqual(expected);
            Console.WriteLine($"- room again, the same --resume command: exit {code}; output byte-identical to a run that never failed: {identical}");
            ok &= identical;

            File.WriteAllBytes(output, previous);
            Sh("mount", "-o", "remount,ro", mount);
            (code, error) = RunTe(te, Args(output));
            ok &= Report("read-only disk", code, error, previous, output, mount, expectLeftovers: false);
        }
        finally
        {
            Sh("umount", mount);
        }
        Console.WriteLine(ok ? "PASS" : "FAIL");
        return ok ? 0 : 1;
    }

    private static bool Report(string what, int code, string error, byte[] previous, string output, string folder, bool expectLeftovers)
    {
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var untouched = File.ReadAllBytes(output).AsSpan().SequenceEqual(previous);
        var leftovers = Directory.GetFiles(folder, ".*partial*").Length;
        var ok = code == 3 && lines.Length == 1 && untouched && (leftovers > 0) == expectLeftovers;
        Console.WriteLine($"- {what}: exit {code}; stderr: {string.Join(" / ", lines)}; previous output untouched: {untouched}; partial files left: {leftovers}{(ok ? "" : " — FAIL")}");
        return ok;
    }

    private static int Sh(string command, params string[] args)
    {
        var info = new ProcessStartInfo(command) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) Console.WriteLine($"({command} {string.Join(' ', args)}: {error.Trim()})");
        return p.ExitCode;
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace TransformerEmbeddings.Reliability;

/// <summary>What every harness needs: the shared data, a private copy of <c>te</c>, child processes and their memory, .npy files.</summary>
internal static class Harness
{
    public static string SharedRoot()
    {
        var env = Environment.GetEnvironmentVariable("TE_SHARED");
        if (!string.IsNullOrEmpty(env)) return env;
        foreach (var start in Starts())
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var c = Path.Combine(dir.FullName, "shared");
                if (Directory.Exists(Path.Combine(c, "testmodels"))) return c;
            }
        throw new DirectoryNotFoundException("../shared (the test models and the STS corpus) was not found; set TE_SHARED.");
    }

    public static string Model(string name) => Path.Combine(SharedRoot(), "testmodels", name);

    /// <summary>sentence1 and sentence2 of every STS-benchmark dev line, in file order.</summary>
    public static List<string> StsSentences()
    {
        var list = new List<string>();
        foreach (var line in File.ReadLines(Path.Combine(SharedRoot(), "data", "stsbenchmark", "sts-dev.csv")))
        {
            var cols = line.Split('\t');
            if (cols.Length < 7) continue;
            list.Add(cols[5]);
            list.Add(cols[6]);
        }
        return list;
    }

    public static string RepositoryRoot()
    {
        foreach (var start in Starts())
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "TransformerEmbeddings.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("TransformerEmbeddings.sln not found above " + AppContext.BaseDirectory + " or the current folder");
    }

    /// <summary>Where the repository is looked for: above the harness (built in place) and above the current folder (a copy run elsewhere).</summary>
    private static string[] Starts() => [AppContext.BaseDirectory, Environment.CurrentDirectory];

    /// <summary>
    /// A private copy of the built <c>te</c> (src/TransformerEmbeddings.Cli/bin/Release/net10.0), so that a rebuild while a
    /// long harness runs does not change the program under test.
    /// </summary>
    public static string CopyOfTe(string work)
    {
        var bin = Path.Combine(RepositoryRoot(), "src", "TransformerEmbeddings.Cli", "bin", "Release", "net10.0");
        if (!File.Exists(Path.Combine(bin, "te.dll")))
            throw new FileNotFoundException($"te is not built in {bin}: dotnet build -c Release first.");
        var copy = Path.Combine(work, "te-bin");
        foreach (var file in Directory.EnumerateFiles(bin, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(copy, Path.GetRelativePath(bin, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
        return Path.Combine(copy, "te.dll");
    }

    /// <summary>Starts <c>nice -n 19 dotnet te.dll args</c> (the machine is shared: other work keeps priority).</summary>
    public static Process StartTe(string te, IEnumerable<string> args, bool nice = true)
    {
        var info = new ProcessStartInfo(nice ? "nice" : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (nice)
        {
            info.ArgumentList.Add("-n");
            info.ArgumentList.Add("19");
            info.ArgumentList.Add("dotnet");
        }
        info.ArgumentList.Add(te);
        foreach (var a in args) info.ArgumentList.Add(a);
        return Process.Start(info)!;
    }

    /// <summary>Runs te to the end; returns the exit code and stderr.</summary>
    public static (int Code, string Error) RunTe(string te, IEnumerable<string> args, bool nice = true)
    {
        using var p = StartTe(te, args, nice);
        var error = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, error.Result);
    }

    /// <summary>The resident set of a process in MiB (VmRSS of /proc/PID/status), or null when it is gone.</summary>
    public static double? RssMiB(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }

    public static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    public static string Cpu()
    {
        var line = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) : null;
        return $"{line?[(line.IndexOf(':') + 1)..].Trim() ?? RuntimeInformation.ProcessArchitecture.ToString()}, {Environment.ProcessorCount} cores";
    }

    /// <summary>A float32 [rows, columns] .npy file as written by <c>te embed</c> (128-byte header).</summary>
    public static (long Rows, int Columns, float[] Data) ReadNpy(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var headerLength = BitConverter.ToUInt16(bytes, 8);
        var header = System.Text.Encoding.ASCII.GetString(bytes, 10, headerLength);
        var shape = header[(header.IndexOf("'shape': (", StringComparison.Ordinal) + 10)..];
        shape = shape[..shape.IndexOf(')')];
        var dims = shape.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
        var data = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(10 + headerLength)).ToArray();
        if (data.LongLength != dims[0] * dims[1]) throw new InvalidDataException($"{path}: {data.Length} floats for shape ({dims[0]}, {dims[1]}).");
        return (dims[0], (int)dims[1], data);
    }

    public static string F(double value, string format = "F1") => value.ToString(format, CultureInfo.InvariantCulture);

    public static string Option(string[] args, string name, string fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }
}

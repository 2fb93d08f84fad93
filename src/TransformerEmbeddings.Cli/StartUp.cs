using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using TransformerEmbeddings.Runtime;

namespace TransformerEmbeddings.Cli;

/// <summary>How te starts and ends: libtorch's loading overlaps the main thread's work, and its teardown is skipped.</summary>
internal static class StartUp
{
    /// <summary>
    /// Makes the main thread's first calls into native code (console, files, clock) before libtorch loads. Loading a
    /// shared library runs its static initialisers under the dynamic loader's lock, and .NET binds each native entry point
    /// on its first call (<c>dlsym</c>, which takes the same lock): libtorch's 0.5–0.7 s of operator registration then
    /// held the main thread at its first console query, so nothing overlapped (strace: one futex wait from the first
    /// Spectre.Console call until libtorch was in). Bound here, the command line, config, tokenizer and input are read
    /// meanwhile. A call missed here only waits as before.
    /// </summary>
    public static void BindNativeCalls()
    {
        try
        {
            Rehearse();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            // Only a head start: te works the same without it.
        }
    }

    private static void Rehearse()
    {
        _ = Console.IsOutputRedirected;
        _ = Console.IsErrorRedirected;
        _ = Console.IsInputRedirected;
        _ = Stopwatch.GetTimestamp();
        _ = DateTime.UtcNow;
        _ = Environment.ProcessorCount;
        _ = Environment.SystemPageSize;
        _ = Directory.GetCurrentDirectory();
        var folder = AppContext.BaseDirectory;
        _ = Directory.Exists(folder);
        foreach (var _ in Directory.EnumerateFileSystemEntries(folder, "te.*")) { }
        var self = Path.Combine(folder, "te.runtimeconfig.json");
        if (!File.Exists(self)) return;
        _ = File.ResolveLinkTarget(self, returnFinalTarget: true);
        _ = File.GetLastWriteTimeUtc(self);
        _ = File.ReadAllBytes(self);
        NativeCalls.Bind(self); // what loading a model's files needs: lseek, pread, mmap, madvise
    }

    /// <summary>
    /// Ends the te process with <paramref name="code"/> once everything is written. At a normal exit libtorch's static
    /// destructors unregister its thousands of operators one by one, about 0.15 s after the last vector is on disk;
    /// te has closed and renamed its output and flushed its streams by now, so it leaves at once (<c>_exit</c>) on Linux.
    /// Run in-process (the tests call the entry point), it only returns the code.
    /// </summary>
    public static int Exit(int code)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        if (OperatingSystem.IsLinux() && Assembly.GetEntryAssembly() == typeof(StartUp).Assembly)
            ExitNow(code);
        return code;
    }

    [DllImport("libc", EntryPoint = "_exit")]
    private static extern void ExitNow(int code);
}

using System.Reflection;
using System.Runtime.InteropServices;
using System.IO.Hashing;

namespace TransformerEmbeddings.Runtime;

/// <summary>
/// Makes sure TorchSharp's native library can load before the first <c>torch</c> call.
/// </summary>
/// <remarks>
/// TorchSharp 0.107's <c>libLibTorchSharp.so</c> declares a need for <c>GLIBCXX_3.4.32</c> (for
/// <c>std::ios_base_library_init</c>, which it never calls). Debian 12 and Ubuntu 22.04 ship an older libstdc++, so
/// the loader refuses the file. When that happens we copy the library into a cache folder, mark that one version
/// requirement weak (<c>VER_FLG_WEAK</c>) in the copy, and load the copy first; the NuGet original is never modified.
/// See docs/runtime.md.
/// </remarks>
public static class NativeRuntime
{
    private const string RequiredGlibcxx = "GLIBCXX_3.4.32";
    private static readonly object Gate = new();
    private static volatile bool _ready;

    /// <summary>Where the patched copy was loaded from, when one was needed; otherwise null.</summary>
    public static string? PatchedLibraryPath { get; private set; }

    /// <summary>The original <c>libLibTorchSharp</c> that was found next to TorchSharp, if any.</summary>
    public static string? OriginalLibraryPath { get; private set; }

    /// <summary>Whether glibc keeps blocks below 32 MB in the heap for reuse (this class set its thresholds).</summary>
    internal static bool HeapKeepsActivations { get; private set; }

    /// <summary>libtorch's handle where this class loaded it (Linux x64), else zero.</summary>
    private static IntPtr LibTorch { get; set; }

    /// <summary>
    /// A function exported by libtorch or a library it depends on (its OpenMP runtime), after <see cref="EnsureLoaded"/>;
    /// false where this class did not load libtorch itself.
    /// </summary>
    internal static bool TryGetExport(string name, out IntPtr address)
    {
        EnsureLoaded();
        address = IntPtr.Zero;
        return LibTorch != IntPtr.Zero && NativeLibrary.TryGetExport(LibTorch, name, out address);
    }

    private static Task? loading;

    /// <summary>
    /// <see cref="EnsureLoaded"/> on a thread of its own, started once per process: every caller gets the same task.
    /// Not a thread-pool thread: the load runs for a few hundred milliseconds, and on a two-core machine two pool
    /// threads held by it (one loading, one waiting for the lock) kept the model load's other background work
    /// (mapping the packed weights' memory, compiling the kernels) queued until it ended.
    /// </summary>
    /// <returns>The load; faulted with <see cref="NativeRuntimeException"/> when it failed (a later call tries again).</returns>
    internal static Task LoadInBackground()
    {
        if (_ready) return Task.CompletedTask;
        var started = Volatile.Read(ref loading);
        if (started is { IsFaulted: false }) return started;
        var task = new Task(EnsureLoaded, TaskCreationOptions.LongRunning);
        var other = Interlocked.CompareExchange(ref loading, task, started);
        if (other != started) return other!;
        task.Start(TaskScheduler.Default);
        return task;
    }

    /// <summary>
    /// Loads the native runtime once per process (idempotent, thread-safe). Called by every entry point of the
    /// library; call it yourself before using TorchSharp directly.
    /// </summary>
    /// <exception cref="NativeRuntimeException">The native runtime cannot load; the message says what is missing.</exception>
    public static void EnsureLoaded()
    {
        if (_ready) return;
        lock (Gate)
        {
            if (_ready) return;
            if (OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64)
            {
                if (KeepActivationsInTheHeap())
                {
                    HeapKeepsActivations = true;
                    MapHeapForLibTorch();
                }
                PrepareLinux();
            }
            try
            {
                // Touching torch runs its static initialiser, which loads the backend.
                _ = TorchSharp.torch.get_default_dtype();
            }
            catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException)
            {
                throw new NativeRuntimeException(
                    "TorchSharp's native runtime could not be loaded: " + Innermost(e).Message +
                    " Reference a runtime package in your application: 'TorchSharp-cpu' (CPU) or 'TorchSharp-cuda-linux' " +
                    "/ 'TorchSharp-cuda-windows' (CUDA), version 0.107.0, and make sure its native files are copied to the output.",
                    e);
            }
            _ready = true;
        }
    }

    // .NET's Environment.SetEnvironmentVariable does not reach the native environment on Unix.
    [DllImport("libc", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int setenv(string name, string value, int overwrite);

    [DllImport("libc")]
    private static extern int mallopt(int param, int value);

    private const int MTrimThreshold = -1, MMmapThreshold = -3;

    /// <summary>
    /// glibc hands blocks above its mmap threshold back to the kernel as soon as they are freed, so each forward pass's
    /// activations (megabytes each) came back as fresh pages, zeroed by the kernel one 4 KB fault at a time: 10,600–15,400
    /// faults per 8 × 512 MiniLM forward (about a tenth of its CPU time in a profile), 3,400 at 32 × 32. A fixed
    /// threshold at glibc's maximum (32 MB) and a trim threshold of 256 MB keep them in the heap for the next pass:
    /// 4,900–6,200 and 400 faults. An application's own malloc settings win.
    /// </summary>
    /// <returns>Whether the thresholds were set (glibc, and no malloc setting of the user's).</returns>
    private static bool KeepActivationsInTheHeap()
    {
        foreach (var name in new[] { "GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_ARENA_MAX" })
            if (Environment.GetEnvironmentVariable(name) is not null) return false;
        try
        {
            _ = mallopt(MMmapThreshold, 32 << 20);
            _ = mallopt(MTrimThreshold, 256 << 20);
            return true;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // Not glibc: its allocator keeps its own policy.
            return false;
        }
    }

    [DllImport("libc")]
    private static extern unsafe void* malloc(nuint size);

    [DllImport("libc")]
    private static extern unsafe void free(void* p);

    /// <summary>
    /// libtorch's static initialisers (its operator registry) allocate ~54 MB in small blocks on the loading thread.
    /// Grown one 4 KB fault at a time, that heap cost ~0.1 s of a 0.43 s load on a virtual machine (14 µs a fault);
    /// mapped in one call beforehand (two blocks below the mmap threshold, freed at once: they stay in this thread's heap
    /// under the raised trim threshold) it costs ~8 ms: libtorch loads in ~0.33 s.
    /// </summary>
    private static unsafe void MapHeapForLibTorch()
    {
        const int Block = 28 << 20;
        var a = malloc(Block);
        var b = malloc(Block);
        if (a is not null) Pages.PopulateForWrite(a, Block);
        if (b is not null) Pages.PopulateForWrite(b, Block);
        free(b);
        free(a);
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException != null) e = e.InnerException;
        return e;
    }

    private static void PrepareLinux()
    {
        var original = FindNativeFile("libLibTorchSharp.so");
        OriginalLibraryPath = original;
        if (original == null) return; // let TorchSharp's own probing produce the error

        // libgomp reads its settings once, when libtorch loads it. Its workers spin after every parallel region by
        // default; our own kernel threads (Kernels/TileWorkers) then compete with spinning threads for the same cores,
        // which cost 1.5–3× on 2-core machines. Passive waiting keeps the cores free; a user's own setting wins.
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null && Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is null)
            _ = setenv("OMP_WAIT_POLICY", "PASSIVE", 0);

        var nativeDir = Path.GetDirectoryName(original)!;
        // Load libtorch first so the copy's dependencies resolve by soname even though it lives elsewhere.
        var libtorch = Path.Combine(nativeDir, "libtorch.so");
        if (!File.Exists(libtorch)) libtorch = FindNativeFile("libtorch.so") ?? libtorch;
        if (File.Exists(libtorch) && NativeLibrary.TryLoad(libtorch, out var handle)) LibTorch = handle;

        // Read once for the check and the cache key (this runs on te's critical path, right after libtorch's load).
        var bytes = File.ReadAllBytes(original);
        if (!ElfVersionPatch.RequiresVersion(bytes, RequiredGlibcxx) || SystemHasGlibcxx(RequiredGlibcxx))
            return;

        var patched = EnsurePatchedCopy(original, bytes);
        try
        {
            NativeLibrary.Load(patched);
            PatchedLibraryPath = patched;
        }
        catch (DllNotFoundException e)
        {
            throw new NativeRuntimeException(
                $"The patched copy '{patched}' of '{original}' could not be loaded: {e.Message}", e);
        }
    }

    /// <summary>Copies and patches the library into a per-user cache folder, keyed by the original's hash.</summary>
    internal static string EnsurePatchedCopy(string original, string? cacheRoot = null) =>
        EnsurePatchedCopy(original, File.ReadAllBytes(original), cacheRoot);

    /// <summary>
    /// <see cref="EnsurePatchedCopy(string, string?)"/> with the original's bytes already read (patched in place when the copy is made). The key is a 64-bit
    /// xxHash of its content (a cache name, not a check against tampering: whoever can write the cache folder can replace
    /// the copy anyway); a cryptographic hash loaded OpenSSL on every start, ~25 ms before the first vector.
    /// </summary>
    internal static string EnsurePatchedCopy(string original, byte[] bytes, string? cacheRoot = null)
    {
        var hash = Convert.ToHexString(XxHash64.Hash(bytes)).ToLowerInvariant();
        var dir = Path.Combine(cacheRoot ?? CacheRoot(), "native", hash);
        var target = Path.Combine(dir, Path.GetFileName(original));
        if (File.Exists(target)) return target;

        Directory.CreateDirectory(dir);
        var patchedCount = ElfVersionPatch.MarkVersionWeak(bytes, RequiredGlibcxx);
        if (patchedCount == 0)
            throw new NativeRuntimeException($"'{original}' has no {RequiredGlibcxx} requirement to relax.");

        // Concurrent processes: each writes its own temp file; the rename is atomic and all copies are identical.
        var temp = Path.Combine(dir, $".{Path.GetFileName(original)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(temp, bytes);
        try
        {
            File.Move(temp, target, overwrite: true);
        }
        catch (IOException) when (File.Exists(target))
        {
            File.Delete(temp);
        }
        return target;
    }

    /// <summary>The cache folder: <c>TE_CACHE</c>, else <c>$XDG_CACHE_HOME/transformer-embeddings</c>, else <c>~/.cache/transformer-embeddings</c>.</summary>
    internal static string CacheRoot()
    {
        var env = Environment.GetEnvironmentVariable("TE_CACHE");
        if (!string.IsNullOrEmpty(env)) return env;
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var baseDir = !string.IsNullOrEmpty(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        if (string.IsNullOrEmpty(baseDir) || baseDir == ".cache") baseDir = Path.Combine(Path.GetTempPath(), "te-cache");
        return Path.Combine(baseDir, "transformer-embeddings");
    }

    private static bool SystemHasGlibcxx(string version)
    {
        foreach (var candidate in new[]
                 {
                     "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
                     "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
                 })
        {
            if (File.Exists(candidate)) return ElfVersionPatch.DefinesVersion(candidate, version);
        }
        return false;
    }

    /// <summary>Finds a native file the way the host lays them out: app folder, runtimes/RID/native, TorchSharp's folder.</summary>
    internal static string? FindNativeFile(string fileName)
    {
        var dirs = new List<string>();
        void Add(string? d)
        {
            if (string.IsNullOrEmpty(d)) return;
            dirs.Add(d);
            dirs.Add(Path.Combine(d, "runtimes", "linux-x64", "native"));
        }

        Add(AppContext.BaseDirectory);
        Add(Path.GetDirectoryName(typeof(TorchSharp.torch).Assembly.Location));
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string searchDirs)
            foreach (var d in searchDirs.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)) dirs.Add(d);
        // NuGet cache layout when running from a deps.json that points there (e.g. `dotnet run` of a project).
        var asm = typeof(TorchSharp.torch).Assembly.Location;
        if (!string.IsNullOrEmpty(asm))
        {
            // .../torchsharp/0.107.0/lib/net8.0/TorchSharp.dll -> .../torchsharp/0.107.0/runtimes/linux-x64/native
            var pkg = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(asm)!, "..", ".."));
            dirs.Add(Path.Combine(pkg, "runtimes", "linux-x64", "native"));
        }

        foreach (var d in dirs)
        {
            var p = Path.Combine(d, fileName);
            if (File.Exists(p)) return Path.GetFullPath(p);
        }
        return null;
    }

    internal static Assembly TorchAssembly => typeof(TorchSharp.torch).Assembly;
}

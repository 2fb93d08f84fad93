using System.Security.Cryptography;
using TransformerEmbeddings.Runtime;
using Xunit;

namespace TransformerEmbeddings.Tests.Runtime;

public sealed class NativeRuntimeTests
{
    private const string Version = "GLIBCXX_3.4.32";

    private static string Original()
    {
        NativeRuntime.EnsureLoaded();
        return NativeRuntime.OriginalLibraryPath ?? throw new InvalidOperationException("libLibTorchSharp.so was not found next to TorchSharp");
    }

    private static bool SystemLacksVersion() =>
        !new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6" }
            .Where(File.Exists).Any(p => ElfVersionPatch.DefinesVersion(p, Version));

    [Fact]
    public void Torch_works_after_EnsureLoaded()
    {
        NativeRuntime.EnsureLoaded();
        using var t = TorchSharp.torch.arange(4);
        Assert.Equal(6L, t.sum().item<long>());
    }

    [Fact]
    public async Task Loading_in_the_background_gives_every_caller_one_finished_load()
    {
        var loads = new Task[8];
        Parallel.For(0, loads.Length, i => loads[i] = NativeRuntime.LoadInBackground());
        await Task.WhenAll(loads);
        Assert.All(loads, load => Assert.True(load.IsCompletedSuccessfully));
        Assert.Same(NativeRuntime.LoadInBackground(), NativeRuntime.LoadInBackground()); // once loaded: the same finished task
        using var t = TorchSharp.torch.ones(3);
        Assert.Equal(3f, t.sum().item<float>());
    }

    [Fact]
    public void On_a_system_without_the_version_the_patched_copy_is_used_and_the_original_is_untouched()
    {
        var original = Original();
        Assert.True(ElfVersionPatch.RequiresVersion(original, Version), "TorchSharp 0.107's library is expected to require " + Version);
        if (!SystemLacksVersion())
        {
            Assert.Null(NativeRuntime.PatchedLibraryPath); // nothing to fix on this system
            return;
        }

        var patched = NativeRuntime.PatchedLibraryPath;
        Assert.NotNull(patched);
        Assert.NotEqual(Path.GetFullPath(original), Path.GetFullPath(patched));
        Assert.DoesNotContain(Path.GetDirectoryName(original)!, patched);

        // The copy differs from the original only in the version flag; the original still carries the strict flag.
        var a = File.ReadAllBytes(original);
        var b = File.ReadAllBytes(patched);
        Assert.Equal(a.Length, b.Length);
        Assert.Equal(1, a.Zip(b).Count(p => p.First != p.Second)); // exactly one byte differs
        var again = (byte[])a.Clone();
        Assert.Equal(1, ElfVersionPatch.MarkVersionWeak(again, Version));
        Assert.Equal(b, again);
        var bare = new byte[64];
        new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1 }.CopyTo(bare, 0);
        Assert.Equal(0, ElfVersionPatch.MarkVersionWeak(bare, Version)); // no version section: nothing to patch
    }

    [Fact]
    public void Concurrent_patching_into_a_fresh_cache_yields_one_identical_file()
    {
        var original = Original();
        var cache = Path.Combine(Path.GetTempPath(), "te-native-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            var paths = Enumerable.Range(0, 8).AsParallel().WithDegreeOfParallelism(8)
                .Select(_ => NativeRuntime.EnsurePatchedCopy(original, cache)).ToList();
            Assert.Single(paths.Distinct());
            var files = Directory.GetFiles(Path.GetDirectoryName(paths[0])!);
            Assert.Single(files); // no temp files left behind
            var expected = File.ReadAllBytes(original);
            ElfVersionPatch.MarkVersionWeak(expected, Version);
            Assert.Equal(SHA256.HashData(expected), SHA256.HashData(File.ReadAllBytes(paths[0])));
        }
        finally
        {
            if (Directory.Exists(cache)) Directory.Delete(cache, recursive: true);
        }
    }

    [Fact]
    public void Unknown_or_unavailable_devices_fail_with_a_clear_error()
    {
        Assert.Equal(TorchSharp.DeviceType.CPU, ComputeDevice.Resolve(null).type);
        Assert.Throws<DeviceUnavailableException>(() => ComputeDevice.Resolve("tpu"));
        if (!TorchSharp.torch.cuda.is_available())
        {
            var e = Assert.Throws<DeviceUnavailableException>(() => ComputeDevice.Resolve("cuda"));
            Assert.Contains("CUDA is not available", e.Message);
        }
    }
}

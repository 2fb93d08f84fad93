using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Runtime;

/// <summary>The CPU features that decide the fast mode's path.</summary>
/// <param name="Avx2Fma">AVX2 and FMA (the integer and fp32 kernels).</param>
/// <param name="Bf16">AVX512-BF16 or AMX-BF16 (native bfloat16 matmul in libtorch).</param>
internal readonly record struct CpuFeatures(bool Avx2Fma, bool Bf16)
{
    /// <summary>This machine's features (bfloat16 support is read from /proc/cpuinfo; false where there is none).</summary>
    public static CpuFeatures Current { get; } = new(Avx2.IsSupported && Fma.IsSupported, HasAnyFlag("avx512_bf16", "amx_bf16"));

    private static bool HasAnyFlag(params string[] wanted)
    {
        try
        {
            if (!File.Exists("/proc/cpuinfo")) return false;
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
            if (line is null) return false;
            var flags = line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return wanted.Any(flags.Contains);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}

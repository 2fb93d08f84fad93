using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Runtime;

/// <summary>The CPU features that decide the fast mode's path.</summary>
/// <param name="Avx2Fma">AVX2 and FMA (the integer and fp32 kernels).</param>
/// <param name="Bf16">AVX512-BF16 or AMX-BF16 (native bfloat16 matmul in libtorch).</param>
/// <param name="Avx512">AVX-512 (libtorch's fp32 GEMM runs twice as wide as the library's 256-bit kernels).</param>
/// <param name="AvxVnni">AVX-VNNI (the integer kernel's multiply-add is one instruction).</param>
internal readonly record struct CpuFeatures(bool Avx2Fma, bool Bf16, bool Avx512 = false, bool AvxVnni = false)
{
    /// <summary>This machine's features (bfloat16 support is read from /proc/cpuinfo; false where there is none).</summary>
    public static CpuFeatures Current { get; } = new(
        Avx2.IsSupported && Fma.IsSupported, HasAnyFlag("avx512_bf16", "amx_bf16"), Avx512F.IsSupported, HasVnni());

    private static bool HasVnni() =>
#if NET10_0_OR_GREATER
        System.Runtime.Intrinsics.X86.AvxVnni.IsSupported;
#else
        false;
#endif

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

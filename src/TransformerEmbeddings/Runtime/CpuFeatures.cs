using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Runtime;

/// <summary>The CPU features that decide which kernels a model binds and which path the fast mode takes.</summary>
/// <param name="Avx2Fma">AVX2 and FMA (the 256-bit kernels).</param>
/// <param name="Bf16">AVX512-BF16 or AMX-BF16 (native bfloat16 in libtorch).</param>
/// <param name="Avx512">AVX-512 F and BW (the 512-bit kernels).</param>
/// <param name="AvxVnni">AVX-VNNI (the 256-bit integer kernel's multiply-add is one instruction).</param>
/// <param name="Amx">AMX tiles (libtorch's bfloat16 matmul runs on them).</param>
/// <param name="Avx512Vnni">AVX512-VNNI besides AVX-512 F and BW (the 512-bit integer kernel's multiply-add is one instruction).</param>
internal readonly record struct CpuFeatures(bool Avx2Fma, bool Bf16, bool Avx512 = false, bool AvxVnni = false, bool Amx = false, bool Avx512Vnni = false)
{
    /// <summary>This machine's features (BF16 and AMX are read from /proc/cpuinfo; false where there is none).</summary>
    public static CpuFeatures Current { get; } = new(
        Avx2.IsSupported && Fma.IsSupported, HasAnyFlag("avx512_bf16", "amx_bf16"),
        Avx512F.IsSupported && Avx512BW.IsSupported && Fma.IsSupported, HasVnni(), HasAnyFlag("amx_bf16"), HasAvx512Vnni());

    /// <summary>A CPU without any of these features (libtorch computes everything).</summary>
    public static CpuFeatures None => new(false, false);

    /// <summary>The features as the lowercase names /proc/cpuinfo uses, for logs and benchmarks.</summary>
    public override string ToString() =>
        string.Join(' ', new[] { (Avx2Fma, "avx2 fma"), (Avx512, "avx512f avx512bw"), (AvxVnni, "avx_vnni"), (Avx512Vnni, "avx512_vnni"), (Bf16, "bf16"), (Amx, "amx") }
            .Where(f => f.Item1).Select(f => f.Item2).DefaultIfEmpty("none"));

    private static bool HasVnni() =>
#if NET10_0_OR_GREATER
        System.Runtime.Intrinsics.X86.AvxVnni.IsSupported;
#else
        false;
#endif

    /// <summary>CPUID leaf 7 ECX bit 11; .NET has no class for it. Avx512F.IsSupported already means the OS saves the zmm state.</summary>
    private static bool HasAvx512Vnni() =>
        Avx512F.IsSupported && Avx512BW.IsSupported && (X86Base.CpuId(7, 0).Ecx & (1 << 11)) != 0;

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

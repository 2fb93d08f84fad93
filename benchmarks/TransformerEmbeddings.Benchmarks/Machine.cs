using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Benchmarks;

/// <summary>What the CPU is and can do, and what the process costs.</summary>
internal static class Machine
{
    private static string[]? _flags;

    public static string CpuModel()
    {
        if (File.Exists("/proc/cpuinfo"))
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (line is not null) return line[(line.IndexOf(':') + 1)..].Trim();
        }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    public static IReadOnlyList<string> CpuFlags()
    {
        if (_flags is not null) return _flags;
        if (File.Exists("/proc/cpuinfo"))
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
            if (line is not null) return _flags = line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        }
        return _flags = [];
    }

    public static bool HasFlag(string flag) => CpuFlags().Contains(flag);

    public static bool HasAvx512Bf16 => HasFlag("avx512_bf16") || HasFlag("amx_bf16");

    public static bool HasVnni => HasFlag("avx512_vnni") || HasFlag("avx_vnni") || AvxVnni.IsSupported;

    public static string Features()
    {
        var f = new List<string>();
        if (Avx2.IsSupported) f.Add("AVX2");
        if (Fma.IsSupported) f.Add("FMA");
        if (Avx512F.IsSupported) f.Add("AVX-512F");
        if (HasFlag("avx512_vnni")) f.Add("AVX512-VNNI");
        if (HasFlag("avx_vnni") || AvxVnni.IsSupported) f.Add("AVX-VNNI");
        if (HasFlag("avx512_bf16")) f.Add("AVX512-BF16");
        if (HasFlag("amx_bf16")) f.Add("AMX-BF16");
        if (HasFlag("amx_int8")) f.Add("AMX-INT8");
        if (f.Count == 0) f.Add("(no AVX2)");
        return string.Join(" ", f) + $"; {Environment.ProcessorCount} logical cores";
    }

    /// <summary>Peak resident set size of this process so far (VmHWM), in MiB.</summary>
    public static double PeakRssMiB() => Status("VmHWM:");

    /// <summary>Current resident set size (VmRSS), in MiB.</summary>
    public static double RssMiB() => Status("VmRSS:");

    private static double Status(string key)
    {
        if (!File.Exists("/proc/self/status")) return Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0;
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
        if (line is null) return double.NaN;
        var kb = long.Parse(line[key.Length..].Trim().Split(' ')[0]);
        return kb / 1024.0;
    }
}

using TorchSharp;
using TransformerEmbeddings.Kernels;

namespace TransformerEmbeddings.Runtime;

/// <summary>How a model's linear layers compute.</summary>
internal enum LinearMath
{
    /// <summary>libtorch's <c>linear</c> in the model's dtype.</summary>
    Libtorch,

    /// <summary>The library's fp32 GEMM on weights packed once (exact).</summary>
    Float32,

    /// <summary>The library's 12-bit integer GEMM (the CPU fast mode).</summary>
    Int16,
}

/// <summary>What a model's forward runs on, chosen once at load: the tensors' type, the linear layers' math, the kernels' instruction set, and a line that says so.</summary>
/// <param name="DType">The weights' and activations' type.</param>
/// <param name="Linears">How linear layers compute.</param>
/// <param name="Isa">The instruction set of the library's kernels (<see cref="InstructionSet.None"/>: libtorch only).</param>
/// <param name="Description">What was chosen and why, for logs and benchmarks.</param>
/// <param name="Avx512Vnni">The fast mode's integer kernel is the AVX512-VNNI machine code (<see cref="Kernels.Gemm.QgemmAvx512Vnni"/>).</param>
internal sealed record ComputePlan(torch.ScalarType DType, LinearMath Linears, InstructionSet Isa, string Description, bool Avx512Vnni = false)
{
    /// <summary>Resolves a requested precision on a device (the kernels and the fast mode's path by the CPU's features).</summary>
    /// <param name="precision">What was asked for.</param>
    /// <param name="cuda">Whether the model runs on a CUDA device.</param>
    /// <param name="cpu">The CPU's features.</param>
    /// <param name="isa">Forces the kernels' instruction set (tests and benchmarks; <see cref="InstructionSet.None"/> = libtorch only); by the features when null.</param>
    /// <returns>The plan.</returns>
    public static ComputePlan Resolve(Precision precision, bool cuda, CpuFeatures cpu, InstructionSet? isa = null)
    {
        string device = cuda ? "cuda" : "cpu";
        if (cuda || precision is Precision.BFloat16 or Precision.Float16)
        {
            return precision switch
            {
                Precision.BFloat16 => new(torch.ScalarType.BFloat16, LinearMath.Libtorch, InstructionSet.None, $"{device} bfloat16 (libtorch)"),
                Precision.Float16 => new(torch.ScalarType.Float16, LinearMath.Libtorch, InstructionSet.None, $"{device} float16 (libtorch)"),
                Precision.Fast => new(torch.ScalarType.Float16, LinearMath.Libtorch, InstructionSet.None, "cuda float16 (fast mode)"),
                _ => new(torch.ScalarType.Float32, LinearMath.Libtorch, InstructionSet.None, $"{device} float32, exact (libtorch)"),
            };
        }
        var chosen = isa ?? (cpu.Avx512 ? InstructionSet.Avx512 : cpu.Avx2Fma ? InstructionSet.Avx2 : InstructionSet.None);
        if (chosen != InstructionSet.None && !KernelTable.Runs(chosen)) chosen = KernelTable.Best; // a forced path this CPU lacks
        string kernels = chosen switch
        {
            InstructionSet.Avx512 => "AVX-512 kernels",
            InstructionSet.Avx2 => cpu.AvxVnni ? "AVX2 kernels, AVX-VNNI" : "AVX2 kernels",
            InstructionSet.Scalar => "scalar kernels",
            _ => "libtorch",
        };
        if (precision == Precision.Fast)
        {
            // AMX multiplies bf16 tiles far faster than any vector kernel; elsewhere the 12-bit integer GEMM is the
            // quickest path within cosine 0.999 (AVX-512: 2.7× the fp32 FMA rate on Zen 5; AVX2: 1.35–1.9×).
            if (cpu.Amx) return new(torch.ScalarType.BFloat16, LinearMath.Libtorch, InstructionSet.None, "cpu bfloat16 (fast mode: AMX, libtorch)");
            if (chosen != InstructionSet.None)
            {
                // AVX512-VNNI: the integer kernel is machine code where the OS lets it run (not Windows: another ABI).
                bool vnni = chosen == InstructionSet.Avx512 && cpu.Avx512Vnni && Kernels.Gemm.QgemmAvx512Vnni.IsAvailable;
                return new(torch.ScalarType.Float32, LinearMath.Int16, chosen,
                    $"cpu float32, linear layers on 12-bit integers, attention's query and output on 8 (fast mode: {kernels}{(vnni ? ", AVX512-VNNI" : "")})", vnni);
            }
            return new(torch.ScalarType.Float32, LinearMath.Libtorch, InstructionSet.None, "cpu float32, exact (fast mode: no AVX2 on this CPU, libtorch)");
        }
        return chosen == InstructionSet.None
            ? new(torch.ScalarType.Float32, LinearMath.Libtorch, chosen, "cpu float32, exact (libtorch)")
            : new(torch.ScalarType.Float32, LinearMath.Float32, chosen, $"cpu float32, exact ({kernels})");
    }
}

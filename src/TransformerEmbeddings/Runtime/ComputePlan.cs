using TorchSharp;

namespace TransformerEmbeddings.Runtime;

/// <summary>What a model's forward runs on: the tensors' type, whether linear layers run on 12-bit integers, and a line that says so.</summary>
/// <param name="DType">The weights' and activations' type.</param>
/// <param name="Int16Linears">Linear layers on the 12-bit integer kernel (the CPU fast mode).</param>
/// <param name="Description">What was chosen and why, for logs and benchmarks.</param>
internal sealed record ComputePlan(torch.ScalarType DType, bool Int16Linears, string Description)
{
    /// <summary>Resolves a requested precision on a device (the fast mode by the CPU's features).</summary>
    /// <param name="precision">What was asked for.</param>
    /// <param name="cuda">Whether the model runs on a CUDA device.</param>
    /// <param name="cpu">The CPU's features.</param>
    /// <returns>The plan.</returns>
    public static ComputePlan Resolve(Precision precision, bool cuda, CpuFeatures cpu)
    {
        string device = cuda ? "cuda" : "cpu";
        return precision switch
        {
            Precision.BFloat16 => new(torch.ScalarType.BFloat16, false, $"{device} bfloat16"),
            Precision.Float16 => new(torch.ScalarType.Float16, false, $"{device} float16"),
            Precision.Fast when cuda => new(torch.ScalarType.Float16, false, "cuda float16 (fast mode)"),
            Precision.Fast when cpu.Bf16 => new(torch.ScalarType.BFloat16, false, "cpu bfloat16 (fast mode: AVX512-BF16/AMX)"),
            // Without VNNI the 256-bit integer kernel does ~1.4× the library's 256-bit fp32 kernel, less than libtorch's
            // AVX-512 fp32 GEMM (2×): there the exact path is the fast one.
            Precision.Fast when cpu.Avx512 && !cpu.AvxVnni => new(torch.ScalarType.Float32, false, "cpu float32, exact (fast mode: AVX-512 without BF16 or VNNI, where libtorch's fp32 GEMM is quickest)"),
            Precision.Fast when cpu.Avx2Fma => new(torch.ScalarType.Float32, true, $"cpu float32, linear layers on 12-bit integers (fast mode: {(cpu.AvxVnni ? "AVX-VNNI" : "AVX2")})"),
            Precision.Fast => new(torch.ScalarType.Float32, false, "cpu float32, exact (fast mode: no AVX2 on this CPU)"),
            _ => new(torch.ScalarType.Float32, false, cpu.Avx2Fma && !cuda ? "cpu float32, exact (AVX2/FMA kernels)" : $"{device} float32, exact"),
        };
    }
}

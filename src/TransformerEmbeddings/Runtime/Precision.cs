namespace TransformerEmbeddings.Runtime;

/// <summary>The numeric type weights and activations use.</summary>
public enum Precision
{
    /// <summary>float32: HuggingFace-exact (within 1e-4 of the float64 reference). The default.</summary>
    Float32,

    /// <summary>bfloat16 weights and activations: faster on CPUs with AVX512-BF16/AMX and on GPUs; not exact.</summary>
    BFloat16,

    /// <summary>float16 weights and activations: for GPUs; not exact.</summary>
    Float16,
}

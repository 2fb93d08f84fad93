namespace TransformerEmbeddings;

/// <summary>The numeric type weights and activations use.</summary>
public enum Precision
{
    /// <summary>float32: HuggingFace-exact (within 1e-4 of the float64 reference). The default.</summary>
    Float32,

    /// <summary>bfloat16 weights and activations: faster on CPUs with AVX512-BF16/AMX and on GPUs; not exact.</summary>
    BFloat16,

    /// <summary>float16 weights and activations: for GPUs; not exact.</summary>
    Float16,

    /// <summary>
    /// The fast mode: the quickest path this machine has that stays within cosine 0.999 of the exact result, chosen at
    /// load by device and CPU features — on CPUs with AVX2, linear layers on 12-bit integers and attention's query and
    /// output projections on 8-bit ones (weights per channel, activations per token; everything else fp32; cosine to
    /// exact ≥ 0.9998 on STS-benchmark with all-MiniLM-L6-v2);
    /// bfloat16 on CPUs with AVX512-BF16 or AMX; float16 on CUDA; exact float32 where none applies.
    /// <see cref="TransformerModel.ComputePath"/> says which was chosen. Not exact.
    /// </summary>
    Fast,
}

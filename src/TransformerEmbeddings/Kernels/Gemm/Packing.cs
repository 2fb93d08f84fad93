namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>What every weight packer (<see cref="PackedWeights"/>, <see cref="Int16Weights"/>, <see cref="ByteWeights"/>) checks and shares.</summary>
internal static class Packing
{
    /// <summary>Refuses sizes that do not describe a row-major (N × K) weight, a bias of N values or none, and panels of NR.</summary>
    /// <exception cref="ArgumentOutOfRangeException">N, K or NR is not positive.</exception>
    /// <exception cref="ArgumentException">The weight or the bias has another length.</exception>
    public static void CheckShapes(int weightLength, int biasLength, int outFeatures, int inFeatures, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if (weightLength != (long)outFeatures * inFeatures) throw new ArgumentException($"Expected {outFeatures}×{inFeatures} weights, got {weightLength}.", "weight");
        if (biasLength != 0 && biasLength != outFeatures) throw new ArgumentException($"Expected {outFeatures} bias values, got {biasLength}.", "bias");
    }

    /// <summary>Lowers <paramref name="target"/> to <paramref name="value"/> if smaller, from any thread (the first bad channel of panels packed in parallel).</summary>
    public static void LowerTo(ref int target, int value)
    {
        int seen;
        while (value < (seen = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }
}

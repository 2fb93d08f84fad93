namespace TransformerEmbeddings.Weights;

/// <summary>
/// One tensor as described by a safetensors header. Equality compares every field, the shape element by element.
/// </summary>
/// <param name="Name">The tensor's name (the header key).</param>
/// <param name="DType">The element type.</param>
/// <param name="Shape">The dimensions, outermost first (row-major / C order). Empty for a scalar.</param>
/// <param name="ByteOffset">Where the data begins, counted from the start of the data section (just after the header).</param>
/// <param name="ByteLength">The number of data bytes: <see cref="ElementCount"/> times the element size.</param>
public sealed record SafeTensorInfo(
    string Name,
    SafeTensorsDType DType,
    IReadOnlyList<long> Shape,
    long ByteOffset,
    long ByteLength)
{
    /// <summary>The number of elements: the product of <see cref="Shape"/> (1 for a scalar, 0 when a dimension is 0).</summary>
    /// <exception cref="OverflowException">Thrown at construction when the product does not fit in a <see cref="long"/>.</exception>
    public long ElementCount { get; } = Product(Shape);

    /// <summary>Compares every field; the shape is compared element by element.</summary>
    /// <param name="other">The other description.</param>
    /// <returns>True when both describe the same tensor at the same place.</returns>
    public bool Equals(SafeTensorInfo? other) =>
        other is not null
        && string.Equals(Name, other.Name, StringComparison.Ordinal)
        && DType == other.DType
        && ByteOffset == other.ByteOffset
        && ByteLength == other.ByteLength
        && Shape.SequenceEqual(other.Shape);

    /// <summary>A hash consistent with <see cref="Equals(SafeTensorInfo?)"/>.</summary>
    /// <returns>The hash code.</returns>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Name, StringComparer.Ordinal);
        hash.Add(DType);
        hash.Add(ByteOffset);
        hash.Add(ByteLength);
        foreach (var d in Shape) hash.Add(d);
        return hash.ToHashCode();
    }

    private static long Product(IReadOnlyList<long> shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long n = 1;
        foreach (var d in shape) n = checked(n * d);
        return n;
    }
}

namespace TransformerEmbeddings.Weights;

/// <summary>One tensor to write with <see cref="SafeTensorsWriter"/>.</summary>
/// <param name="Name">The tensor's name; any string with no unpaired surrogate, except <c>__metadata__</c>.</param>
/// <param name="DType">The element type.</param>
/// <param name="Shape">The dimensions, outermost first (row-major). Empty for a scalar.</param>
/// <param name="Data">The raw little-endian bytes: exactly elements × element size of them.</param>
public sealed record SafeTensorEntry(string Name, SafeTensorsDType DType, IReadOnlyList<long> Shape, ReadOnlyMemory<byte> Data);

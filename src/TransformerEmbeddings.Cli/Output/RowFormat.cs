namespace TransformerEmbeddings.Cli.Output;

/// <summary>What one output row holds: float32 values, or the bytes of a quantized vector (te embed --quantize).</summary>
/// <param name="Type">The element type.</param>
/// <param name="Columns">Elements per row.</param>
internal sealed record RowFormat(RowType Type, int Columns)
{
    public static RowFormat Float32(int columns) => new(RowType.Float32, columns);

    public int ElementBytes => Type == RowType.Float32 ? 4 : 1;

    public long RowBytes => (long)Columns * ElementBytes;

    /// <summary>The numpy dtype of the <c>.npy</c> header.</summary>
    public string NpyDescr => Type switch { RowType.Float32 => "<f4", RowType.Int8 => "|i1", _ => "|u1" };

    /// <summary>The safetensors dtype.</summary>
    public string SafeTensorsDType => Type switch { RowType.Float32 => "F32", RowType.Int8 => "I8", _ => "U8" };
}

/// <summary>An output element type.</summary>
internal enum RowType
{
    Float32,
    Int8,
    UInt8,
}

namespace TransformerEmbeddings.Weights;

/// <summary>
/// The element types a safetensors file can declare. The member names are exactly the strings used in the
/// file header's <c>dtype</c> field (case-sensitive). Every element is stored little-endian.
/// </summary>
public enum SafeTensorsDType
{
    /// <summary>Boolean, one byte per element (0 or 1).</summary>
    BOOL,

    /// <summary>Unsigned 8-bit integer.</summary>
    U8,

    /// <summary>Signed 8-bit integer.</summary>
    I8,

    /// <summary>Signed 16-bit integer.</summary>
    I16,

    /// <summary>Unsigned 16-bit integer.</summary>
    U16,

    /// <summary>IEEE 754 half-precision float (binary16).</summary>
    F16,

    /// <summary>bfloat16: the upper 16 bits of an IEEE 754 single-precision float.</summary>
    BF16,

    /// <summary>Signed 32-bit integer.</summary>
    I32,

    /// <summary>Unsigned 32-bit integer.</summary>
    U32,

    /// <summary>IEEE 754 single-precision float.</summary>
    F32,

    /// <summary>IEEE 754 double-precision float.</summary>
    F64,

    /// <summary>Signed 64-bit integer.</summary>
    I64,

    /// <summary>Unsigned 64-bit integer.</summary>
    U64,

    /// <summary>8-bit float, 4 exponent bits and 3 mantissa bits (OCP "FN" variant).</summary>
    F8_E4M3,

    /// <summary>8-bit float, 5 exponent bits and 2 mantissa bits.</summary>
    F8_E5M2,
}

/// <summary>Helpers for <see cref="SafeTensorsDType"/>.</summary>
internal static class SafeTensorsDTypeExtensions
{
    /// <summary>The size in bytes of one element of <paramref name="dtype"/>.</summary>
    /// <param name="dtype">The element type.</param>
    /// <returns>1, 2, 4 or 8.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined member.</exception>
    public static int ElementSize(this SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.BOOL or SafeTensorsDType.U8 or SafeTensorsDType.I8
            or SafeTensorsDType.F8_E4M3 or SafeTensorsDType.F8_E5M2 => 1,
        SafeTensorsDType.I16 or SafeTensorsDType.U16 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 => 2,
        SafeTensorsDType.I32 or SafeTensorsDType.U32 or SafeTensorsDType.F32 => 4,
        SafeTensorsDType.F64 or SafeTensorsDType.I64 or SafeTensorsDType.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a safetensors dtype."),
    };

    /// <summary>The exact string the safetensors header uses for <paramref name="dtype"/> (for example <c>"BF16"</c>).</summary>
    /// <param name="dtype">The element type.</param>
    /// <returns>The header spelling.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined member.</exception>
    public static string ToHeaderString(this SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.BOOL => "BOOL",
        SafeTensorsDType.U8 => "U8",
        SafeTensorsDType.I8 => "I8",
        SafeTensorsDType.I16 => "I16",
        SafeTensorsDType.U16 => "U16",
        SafeTensorsDType.F16 => "F16",
        SafeTensorsDType.BF16 => "BF16",
        SafeTensorsDType.I32 => "I32",
        SafeTensorsDType.U32 => "U32",
        SafeTensorsDType.F32 => "F32",
        SafeTensorsDType.F64 => "F64",
        SafeTensorsDType.I64 => "I64",
        SafeTensorsDType.U64 => "U64",
        SafeTensorsDType.F8_E4M3 => "F8_E4M3",
        SafeTensorsDType.F8_E5M2 => "F8_E5M2",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a safetensors dtype."),
    };

    /// <summary>Parses the header spelling of a dtype (exact, case-sensitive).</summary>
    /// <param name="text">The <c>dtype</c> string from a header.</param>
    /// <param name="dtype">The parsed value when the method returns true.</param>
    /// <returns>True when <paramref name="text"/> names a supported dtype.</returns>
    public static bool TryParse(string? text, out SafeTensorsDType dtype)
    {
        switch (text)
        {
            case "BOOL": dtype = SafeTensorsDType.BOOL; return true;
            case "U8": dtype = SafeTensorsDType.U8; return true;
            case "I8": dtype = SafeTensorsDType.I8; return true;
            case "I16": dtype = SafeTensorsDType.I16; return true;
            case "U16": dtype = SafeTensorsDType.U16; return true;
            case "F16": dtype = SafeTensorsDType.F16; return true;
            case "BF16": dtype = SafeTensorsDType.BF16; return true;
            case "I32": dtype = SafeTensorsDType.I32; return true;
            case "U32": dtype = SafeTensorsDType.U32; return true;
            case "F32": dtype = SafeTensorsDType.F32; return true;
            case "F64": dtype = SafeTensorsDType.F64; return true;
            case "I64": dtype = SafeTensorsDType.I64; return true;
            case "U64": dtype = SafeTensorsDType.U64; return true;
            case "F8_E4M3": dtype = SafeTensorsDType.F8_E4M3; return true;
            case "F8_E5M2": dtype = SafeTensorsDType.F8_E5M2; return true;
            default: dtype = default; return false;
        }
    }

    /// <summary>
    /// The position of <paramref name="dtype"/> in the upstream Rust <c>Dtype</c> enum, which is declared in increasing
    /// alignment order (BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64).
    /// The writer sorts by this rank, descending, exactly as <c>safetensors::serialize</c> does.
    /// </summary>
    internal static int UpstreamRank(this SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.BOOL => 0,
        SafeTensorsDType.U8 => 1,
        SafeTensorsDType.I8 => 2,
        SafeTensorsDType.F8_E5M2 => 3,
        SafeTensorsDType.F8_E4M3 => 4,
        SafeTensorsDType.I16 => 5,
        SafeTensorsDType.U16 => 6,
        SafeTensorsDType.F16 => 7,
        SafeTensorsDType.BF16 => 8,
        SafeTensorsDType.I32 => 9,
        SafeTensorsDType.U32 => 10,
        SafeTensorsDType.F32 => 11,
        SafeTensorsDType.F64 => 12,
        SafeTensorsDType.I64 => 13,
        SafeTensorsDType.U64 => 14,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a safetensors dtype."),
    };
}

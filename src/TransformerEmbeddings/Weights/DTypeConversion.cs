using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace TransformerEmbeddings.Weights;

/// <summary>
/// Converts raw little-endian safetensors data to float32. F16 goes through <see cref="Half"/> (exact: every binary16
/// value is representable in float32); BF16 is widened by shifting its 16 bits into the top of a float32 (exact);
/// F64 is rounded to the nearest float32, as <c>torch.Tensor.float()</c> does.
/// </summary>
internal static class DTypeConversion
{
    /// <summary>Whether <see cref="ToFloat32(ReadOnlySpan{byte}, SafeTensorsDType, Span{float})"/> accepts the dtype:
    /// F32, F16, BF16 and F64.</summary>
    /// <param name="dtype">The source element type.</param>
    /// <returns>True for the floating-point dtypes above.</returns>
    public static bool CanConvertToFloat32(SafeTensorsDType dtype) =>
        dtype is SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.F64;

    /// <summary>Widens one bfloat16 value, given as its raw bits, to float32.</summary>
    /// <param name="bits">The 16 bits of the bfloat16.</param>
    /// <returns>The same value as a float32 (NaN payloads and signed zeros are kept).</returns>
    public static float BFloat16ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>Widens one IEEE binary16 value, given as its raw bits, to float32.</summary>
    /// <param name="bits">The 16 bits of the half.</param>
    /// <returns>The same value as a float32.</returns>
    public static float HalfToSingle(ushort bits) => (float)BitConverter.UInt16BitsToHalf(bits);

    /// <summary>Converts <paramref name="source"/>, raw little-endian elements of <paramref name="dtype"/>, into
    /// <paramref name="destination"/>.</summary>
    /// <param name="source">The raw bytes; their length must be a multiple of the element size.</param>
    /// <param name="dtype">F32, F16, BF16 or F64.</param>
    /// <param name="destination">Receives exactly source.Length / element size values.</param>
    /// <exception cref="ArgumentException">The dtype is not floating-point, the source length is not a whole number of
    /// elements, or the destination length differs from the element count.</exception>
    public static void ToFloat32(ReadOnlySpan<byte> source, SafeTensorsDType dtype, Span<float> destination)
    {
        if (!CanConvertToFloat32(dtype))
            throw new ArgumentException($"dtype {dtype.ToHeaderString()} cannot be converted to float32; expected F32, F16, BF16 or F64.",
                nameof(dtype));
        var size = dtype.ElementSize();
        if (source.Length % size != 0)
            throw new ArgumentException($"{source.Length} bytes is not a whole number of {size}-byte {dtype.ToHeaderString()} elements.",
                nameof(source));
        var count = source.Length / size;
        if (destination.Length != count)
            throw new ArgumentException($"the destination holds {destination.Length} floats but the source has {count} elements.",
                nameof(destination));

        switch (dtype)
        {
            case SafeTensorsDType.F32:
                if (BitConverter.IsLittleEndian)
                {
                    source.CopyTo(MemoryMarshal.AsBytes(destination));
                }
                else
                {
                    for (var i = 0; i < count; i++)
                        destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source.Slice(i * 4));
                }

                break;
            case SafeTensorsDType.F16:
                for (var i = 0; i < count; i++)
                    destination[i] = HalfToSingle(BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(i * 2)));
                break;
            case SafeTensorsDType.BF16:
                for (var i = 0; i < count; i++)
                    destination[i] = BFloat16ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(i * 2)));
                break;
            case SafeTensorsDType.F64:
                for (var i = 0; i < count; i++)
                    destination[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(source.Slice(i * 8));
                break;
        }
    }

    /// <summary>Converts raw little-endian elements of <paramref name="dtype"/> to a new float32 array.</summary>
    /// <param name="source">The raw bytes.</param>
    /// <param name="dtype">F32, F16, BF16 or F64.</param>
    /// <returns>One float per element.</returns>
    /// <exception cref="ArgumentException">See <see cref="ToFloat32(ReadOnlySpan{byte}, SafeTensorsDType, Span{float})"/>.</exception>
    public static float[] ToFloat32Array(ReadOnlySpan<byte> source, SafeTensorsDType dtype)
    {
        if (!CanConvertToFloat32(dtype))
            throw new ArgumentException($"dtype {dtype} cannot be converted to float32; expected F32, F16, BF16 or F64.", nameof(dtype));
        var result = new float[source.Length / dtype.ElementSize()];
        ToFloat32(source, dtype, result);
        return result;
    }
}

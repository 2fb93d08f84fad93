using System.Numerics;
using TransformerEmbeddings.Pooling;

namespace TransformerEmbeddings.Analysis;

/// <summary>
/// Quantizes float32 embeddings as sentence-transformers' <c>quantize_embeddings</c> does: int8/uint8 with per-dimension
/// ranges calibrated from a sample, binary/ubinary as packed sign bits. Values outside the calibrated range saturate at
/// the end levels (numpy's cast would wrap them); bits are packed per vector, so a dimension that is not a multiple of 8
/// pads each vector's last byte with zeros (numpy's flat <c>packbits</c> would run across vectors).
/// <code>
/// var ranges = QuantizationRanges.Calibrate(sample);                      // int8/uint8 only
/// var corpus = new EmbeddingQuantizer(QuantizationPrecision.Int8, ranges).Quantize(vectors); // 4× smaller
/// SearchHit[][] hits = corpus.Search(queries, topK: 10);                  // integer scores, rescored with the float queries
/// </code>
/// </summary>
public sealed class EmbeddingQuantizer
{
    private readonly float[]? starts;
    private readonly float[]? steps;

    /// <summary>A quantizer for one precision.</summary>
    /// <param name="precision">The storage precision.</param>
    /// <param name="ranges">The calibrated ranges; required for <see cref="QuantizationPrecision.Int8"/> and <see cref="QuantizationPrecision.UInt8"/>.</param>
    public EmbeddingQuantizer(QuantizationPrecision precision, QuantizationRanges? ranges = null)
    {
        Precision = precision;
        Ranges = ranges;
        if (precision is QuantizationPrecision.Int8 or QuantizationPrecision.UInt8)
        {
            if (ranges is null) throw new ArgumentNullException(nameof(ranges), $"{precision} needs ranges; calibrate them with QuantizationRanges.Calibrate(sample).");
            if (ranges.Maximum.Length != ranges.Minimum.Length) throw new ArgumentException("The ranges' minimum and maximum differ in length.", nameof(ranges));
            starts = ranges.Minimum;
            steps = ranges.Minimum.Zip(ranges.Maximum, (lo, hi) => (hi - lo) / 255f).ToArray();
        }
    }

    /// <summary>The storage precision.</summary>
    public QuantizationPrecision Precision { get; }

    /// <summary>The int8/uint8 ranges, or null for the binary precisions.</summary>
    public QuantizationRanges? Ranges { get; }

    /// <summary>Whether the stored bytes are signed (int8, binary).</summary>
    public bool Signed => Precision is QuantizationPrecision.Int8 or QuantizationPrecision.Binary;

    /// <summary>Whether a vector is stored as packed bits.</summary>
    public bool Packed => Precision is QuantizationPrecision.Binary or QuantizationPrecision.UBinary;

    /// <summary>Bytes per quantized vector of <paramref name="dimension"/> floats.</summary>
    /// <param name="dimension">D.</param>
    /// <returns>D, or ⌈D / 8⌉ for the binary precisions.</returns>
    public int BytesPerVector(int dimension) => Packed ? (dimension + 7) / 8 : dimension;

    /// <summary>Quantizes one vector into <paramref name="destination"/> (<see cref="BytesPerVector"/> bytes; signed
    /// precisions as two's-complement bytes).</summary>
    /// <param name="vector">D floats.</param>
    /// <param name="destination">The bytes.</param>
    public void Quantize(ReadOnlySpan<float> vector, Span<byte> destination)
    {
        if (destination.Length < BytesPerVector(vector.Length)) throw new ArgumentException($"{destination.Length} bytes cannot hold a quantized vector of {vector.Length}.", nameof(destination));
        if (Packed)
        {
            var shift = Precision == QuantizationPrecision.Binary ? 128 : 0;
            for (var b = 0; b < BytesPerVector(vector.Length); b++)
            {
                var bits = 0;
                for (var j = 0; j < 8; j++)
                {
                    var i = b * 8 + j;
                    if (i < vector.Length && vector[i] > 0) bits |= 0x80 >> j;
                }
                destination[b] = (byte)(bits - shift);                           // np.packbits(x > 0) (− 128 as int8)
            }
            return;
        }
        if (vector.Length != starts!.Length) throw new ArgumentException($"The vector has {vector.Length} values; the ranges have {starts.Length}.", nameof(vector));
        var offset = Precision == QuantizationPrecision.Int8 ? 128f : 0f;
        for (var i = 0; i < vector.Length; i++)
        {
            // ((x − start) / step − 128) truncated toward zero, as numpy's astype; saturated at the end levels.
            var level = steps![i] > 0 ? MathF.Truncate((vector[i] - starts[i]) / steps[i] - offset) : -offset;
            level = Math.Clamp(level, -offset, 255 - offset);
            destination[i] = Precision == QuantizationPrecision.Int8 ? (byte)(sbyte)level : (byte)level;
        }
    }

    /// <summary>Quantizes a batch of embeddings.</summary>
    /// <param name="embeddings">The vectors.</param>
    /// <returns>The quantized vectors, which can be searched.</returns>
    public QuantizedEmbeddings Quantize(Embeddings embeddings)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        var width = BytesPerVector(embeddings.Dimension);
        var data = new byte[(long)embeddings.Count * width];
        for (var i = 0; i < embeddings.Count; i++) Quantize(embeddings.Row(i), data.AsSpan(i * width, width));
        return new QuantizedEmbeddings(this, data, embeddings.Count, embeddings.Dimension);
    }

    /// <summary>The float vector a quantized one stands for: the middle of the values each level holds (int8/uint8), ±1 per bit (binary).</summary>
    /// <param name="quantized">One quantized vector.</param>
    /// <param name="destination">D floats.</param>
    public void Dequantize(ReadOnlySpan<byte> quantized, Span<float> destination)
    {
        if (Packed)
        {
            var shift = Precision == QuantizationPrecision.Binary ? 128 : 0;
            for (var i = 0; i < destination.Length; i++)
                destination[i] = (((quantized[i >> 3] + shift) & 0xFF) & (0x80 >> (i & 7))) != 0 ? 1f : -1f;
            return;
        }
        for (var i = 0; i < destination.Length; i++)
        {
            // The middle of the values that truncate to the level: uint8 level u covers [u, u + 1); int8 truncates toward
            // zero, so level c < 0 covers [c + 127, c + 128), level 0 covers (127, 129) and c > 0 covers [c + 128, c + 129).
            float middle = Precision == QuantizationPrecision.UInt8 ? quantized[i] + 0.5f
                : (sbyte)quantized[i] switch { < 0 and var c => c + 127.5f, 0 => 128f, var c => c + 128.5f };
            destination[i] = starts![i] + middle * steps![i];
        }
    }

    /// <summary>The quantized comparison: the dot product of the centred levels (int8/uint8), or D − 2·Hamming distance (binary).</summary>
    internal static int Score(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, QuantizationPrecision precision, int dimension)
    {
        switch (precision)
        {
            case QuantizationPrecision.Binary:
            case QuantizationPrecision.UBinary:
            {
                var hamming = 0;
                var i = 0;
                for (; i + 8 <= a.Length; i += 8)
                    hamming += BitOperations.PopCount(BitConverter.ToUInt64(a[i..]) ^ BitConverter.ToUInt64(b[i..]));
                for (; i < a.Length; i++) hamming += BitOperations.PopCount((uint)(a[i] ^ b[i]));
                return dimension - 2 * hamming;
            }
            default:
            {
                // uint8 levels centred by −128 are the int8 levels of the same ranges, so both rank alike.
                var shift = precision == QuantizationPrecision.UInt8 ? 128 : 0;
                var sum = 0;
                for (var i = 0; i < a.Length; i++)
                {
                    int x = precision == QuantizationPrecision.Int8 ? (sbyte)a[i] : a[i] - shift;
                    int y = precision == QuantizationPrecision.Int8 ? (sbyte)b[i] : b[i] - shift;
                    sum += x * y;
                }
                return sum;
            }
        }
    }
}

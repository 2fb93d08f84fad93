using System.Buffers.Binary;
using CsCheck;
using TransformerEmbeddings.Weights;
using Xunit;

namespace TransformerEmbeddings.Tests.Weights;

/// <summary>Random mutations and truncations of valid files either open or fail with SafeTensorsException; nothing else.</summary>
public class SafeTensorsFuzzTests
{
    private static readonly byte[][] Seeds =
    [
        SafeTensorsWriter.Serialize(
            [
                new SafeTensorEntry("w", SafeTensorsDType.F32, [2, 3], new byte[24]),
                new SafeTensorEntry("ids", SafeTensorsDType.I64, [1, 2], new byte[16]),
                new SafeTensorEntry("h", SafeTensorsDType.BF16, [3], new byte[6]),
                new SafeTensorEntry("e", SafeTensorsDType.U8, [0], Array.Empty<byte>()),
                new SafeTensorEntry("s", SafeTensorsDType.BOOL, [], new byte[1]),
            ],
            new Dictionary<string, string> { ["format"] = "pt" }),
        SafeTensorsWriter.Serialize([new SafeTensorEntry("x", SafeTensorsDType.F16, [1], new byte[2])]),
        SafeTensorsWriter.Serialize([]),
    ];

    // Bytes that matter to JSON and to the numbers in a header.
    private static readonly byte[] Interesting = "{}[]\":,-.0123456789eE \\u\n\0\xff"u8.ToArray().Concat(new byte[] { 0xC3, 0x80, 0xFF }).ToArray();

    private enum Op { Flip, SetInteresting, SetRandom, Truncate, Insert, Delete, Length, Append }

    private static readonly Gen<Op> GenOp = Gen.Frequency(
        (6, Gen.Const(Op.Flip)), (6, Gen.Const(Op.SetInteresting)), (2, Gen.Const(Op.SetRandom)), (1, Gen.Const(Op.Truncate)),
        (4, Gen.Const(Op.Insert)), (4, Gen.Const(Op.Delete)), (1, Gen.Const(Op.Length)), (1, Gen.Const(Op.Append)));

    private static readonly Gen<byte[]> GenMutated =
        Gen.Select(Gen.Int[0, Seeds.Length - 1], Gen.Select(GenOp, Gen.Int, Gen.Byte, Gen.ULong).Array[1, 4])
            .Select((seed, ops) =>
            {
                var bytes = Seeds[seed].ToList();
                foreach (var (op, pos, value, big) in ops)
                {
                    // Mostly aim inside the header, where the interesting rules live.
                    var headerEnd = bytes.Count >= 8 ? (int)Math.Min(bytes.Count, 8 + (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(bytes.ToArray()), 1_000_000)) : bytes.Count;
                    var at = (big & 3) != 0 && headerEnd > 8
                        ? 8 + (int)((uint)pos % (uint)(headerEnd - 8))
                        : bytes.Count == 0 ? 0 : (int)((uint)pos % (uint)bytes.Count);
                    switch (op)
                    {
                        case Op.Flip when bytes.Count > 0: bytes[at] ^= (byte)(1 << (value % 8)); break;
                        case Op.SetInteresting when bytes.Count > 0: bytes[at] = Interesting[value % Interesting.Length]; break;
                        case Op.SetRandom when bytes.Count > 0: bytes[at] = value; break;
                        case Op.Truncate: bytes.RemoveRange(at, bytes.Count - at); break;
                        case Op.Insert: bytes.Insert(at, Interesting[value % Interesting.Length]); break;
                        case Op.Delete when bytes.Count > 0: bytes.RemoveAt(at); break;
                        case Op.Append: bytes.AddRange(Enumerable.Repeat(value, 1 + value % 9)); break;
                        case Op.Length when bytes.Count >= 8:
                            var n = (value % 3) switch
                            {
                                0 => big,
                                1 => BinaryPrimitives.ReadUInt64LittleEndian(bytes.ToArray()) + (ulong)(sbyte)value,
                                _ => big % 200,
                            };
                            var span = new byte[8];
                            BinaryPrimitives.WriteUInt64LittleEndian(span, n);
                            for (var i = 0; i < 8; i++) bytes[i] = span[i];
                            break;
                    }
                }

                return bytes.ToArray();
            });

    /// <summary>Mutates only the JSON header text, then writes a correct length prefix, so the deeper rules get hit.</summary>
    private static readonly Gen<byte[]> GenHeaderMutated =
        Gen.Select(Gen.Int[0, Seeds.Length - 1], Gen.Select(GenOp, Gen.Int, Gen.Byte).Array[1, 3])
            .Select((seed, ops) =>
            {
                var file = Seeds[seed];
                var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
                var header = file.AsSpan(8, n).ToArray().ToList();
                var data = file.AsSpan(8 + n).ToArray();
                foreach (var (op, pos, value) in ops)
                {
                    var at = header.Count == 0 ? 0 : (int)((uint)pos % (uint)header.Count);
                    switch (op)
                    {
                        case Op.Flip when header.Count > 0: header[at] ^= (byte)(1 << (value % 8)); break;
                        case Op.SetRandom when header.Count > 0: header[at] = value; break;
                        case Op.Delete when header.Count > 0: header.RemoveAt(at); break;
                        case Op.Insert: header.Insert(at, Interesting[value % Interesting.Length]); break;
                        case Op.Truncate when header.Count > 0 && value % 4 == 0: header.RemoveRange(at, header.Count - at); break;
                        default:
                            if (header.Count > 0) header[at] = Interesting[value % Interesting.Length];
                            break;
                    }
                }

                return SafeTensorsTestFiles.Raw(header.ToArray(), data, pad: false);
            });

    private static readonly Gen<byte[]> GenAny = Gen.OneOf(GenMutated, GenHeaderMutated);

    private static void CheckOpened(IReadOnlyList<SafeTensorInfo> tensors, long dataStart, long fileLength, Func<SafeTensorInfo, long> touch)
    {
        long sum = 0;
        foreach (var t in tensors)
        {
            Assert.InRange(t.ByteOffset, 0, fileLength - dataStart);
            Assert.InRange(t.ByteOffset + t.ByteLength, t.ByteOffset, fileLength - dataStart);
            Assert.Equal(t.ElementCount * t.DType.ElementSize(), t.ByteLength);
            sum += touch(t);
        }

        Assert.Equal(fileLength - dataStart, tensors.Sum(t => t.ByteLength));
        Assert.True(sum >= 0);
    }

    [Fact]
    public void In_memory_parse_never_throws_anything_else()
    {
        GenAny.Sample(bytes =>
        {
            try
            {
                var h = SafeTensorsHeader.Parse(bytes, "fuzz");
                CheckOpened(h.Tensors, h.DataStart, bytes.Length, t => bytes.AsSpan((int)(h.DataStart + t.ByteOffset), (int)t.ByteLength).Length);
            }
            catch (SafeTensorsException)
            {
            }
        }, iter: 20_000);
    }

    [Fact]
    public void Open_on_disk_never_throws_anything_else()
    {
        using var dir = new TempDir();
        var i = 0;
        var opened = 0;
        GenAny.Sample(bytes =>
        {
            var path = dir.Write($"f{i++ % 16}.safetensors", bytes);
            try
            {
                using var f = SafeTensorsFile.Open(path);
                opened++;
                CheckOpened(f.Tensors, f.DataStart, f.FileLength, t =>
                {
                    long s = 0;
                    foreach (var b in f.GetBytes(t)) s += b;
                    return s;
                });
            }
            catch (SafeTensorsException ex)
            {
                Assert.Equal(path, ex.FilePath);
            }
        }, iter: 1_000, threads: 1);
        Assert.True(opened > 0, "some mutations (for example of tensor data) must still open");
    }

    [Fact]
    public void Every_truncation_of_a_real_header_fails_cleanly()
    {
        var bytes = File.ReadAllBytes(Path.Combine(Infrastructure.SharedData.Model("bert-tiny-uncased"), "model.safetensors"));
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        for (var cut = 0; cut < 8 + n + 16; cut++)
        {
            var ex = Assert.Throws<SafeTensorsException>(() => SafeTensorsHeader.Parse(bytes.AsSpan(0, cut), "cut"));
            Assert.Equal(
                cut < 8 ? SafeTensorsErrorKind.FileTooSmall
                : cut < 8 + n ? SafeTensorsErrorKind.HeaderOutOfBounds
                : SafeTensorsErrorKind.DataPastEndOfFile, ex.Kind);
        }
    }
}

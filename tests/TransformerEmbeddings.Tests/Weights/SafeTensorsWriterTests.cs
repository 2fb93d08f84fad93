using System.Buffers;
using System.Text;
using CsCheck;
using TransformerEmbeddings.Weights;
using Xunit;

namespace TransformerEmbeddings.Tests.Weights;

public sealed class SafeTensorsWriterTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static byte[] F32(params float[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();

    // Byte vectors from upstream safetensors' own tests (tensor.rs: test_serialization, test_empty,
    // test_serialization_forced_alignement).
    [Fact]
    public void Matches_upstream_serialization_bytes()
    {
        var data = F32(0, 1, 2, 3, 4, 5);
        var bytes = SafeTensorsWriter.Serialize([new SafeTensorEntry("attn.0", SafeTensorsDType.F32, [1, 2, 3], data)]);
        byte[] expected =
        [
            64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
            116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
            58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
            101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
            0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
        ];
        Assert.Equal(expected, bytes);

        bytes = SafeTensorsWriter.Serialize([new SafeTensorEntry("attn0", SafeTensorsDType.F32, [1, 1, 2, 3], data)]);
        expected =
        [
            72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
            121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
            91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
            115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
            32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
            160, 64,
        ];
        Assert.Equal(expected, bytes);
    }

    [Fact]
    public void Matches_upstream_empty_files()
    {
        Assert.Equal([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32], SafeTensorsWriter.Serialize([]));
        byte[] expected =
        [
            40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
            95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
            116, 34, 125, 125, 32, 32, 32, 32, 32,
        ];
        Assert.Equal(expected, SafeTensorsWriter.Serialize([], new Dictionary<string, string> { ["framework"] = "pt" }));
    }

    [Fact]
    public void Sorts_by_dtype_alignment_then_utf8_name_and_escapes_like_serde_json()
    {
        var entries = new[]
        {
            new SafeTensorEntry("b", SafeTensorsDType.U8, [1], new byte[1]),
            new SafeTensorEntry("a", SafeTensorsDType.U8, [1], new byte[1]),
            new SafeTensorEntry("z", SafeTensorsDType.I64, [1], new byte[8]),
            new SafeTensorEntry("\uFF21", SafeTensorsDType.F32, [], new byte[4]),       // U+FF21: UTF-8 EF BC A1
            new SafeTensorEntry("\U0001F600", SafeTensorsDType.F32, [], new byte[4]),   // U+1F600: UTF-8 F0 ..., sorts after
            new SafeTensorEntry("q\"\\\n\u0001", SafeTensorsDType.BF16, [0], Array.Empty<byte>()),
            new SafeTensorEntry("e4", SafeTensorsDType.F8_E4M3, [1], new byte[1]),
            new SafeTensorEntry("e5", SafeTensorsDType.F8_E5M2, [1], new byte[1]),
        };
        var bytes = SafeTensorsWriter.Serialize(entries);
        var header = SafeTensorsHeader.Parse(bytes, "mem");
        Assert.Equal(["z", "\uFF21", "\U0001F600", "q\"\\\n\u0001", "e4", "e5", "a", "b"], header.Tensors.Select(t => t.Name));
        var json = Encoding.UTF8.GetString(bytes, 8, (int)header.HeaderLength);
        Assert.Contains("\"q\\\"\\\\\\n\\u0001\"", json);
        Assert.Contains("\"\uFF21\"", json); // non-ASCII stays raw UTF-8
        // Offsets follow the sorted order, so every tensor is aligned to its element size in the file.
        Assert.All(header.Tensors, t => Assert.Equal(0, (header.DataStart + t.ByteOffset) % t.DType.ElementSize()));
    }

    [Fact]
    public void Rejects_bad_requests_without_touching_the_target()
    {
        var path = _dir.File("target.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);

        void Bad(SafeTensorsErrorKind kind, IEnumerable<SafeTensorEntry> entries, IReadOnlyDictionary<string, string>? meta = null)
        {
            var ex = Assert.Throws<SafeTensorsException>(() => SafeTensorsWriter.Write(path, entries, meta));
            Assert.Equal(kind, ex.Kind);
            Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
            Assert.Single(Directory.GetFiles(_dir.Path));
        }

        var ok = new SafeTensorEntry("t", SafeTensorsDType.F32, [2], new byte[8]);
        Bad(SafeTensorsErrorKind.SizeMismatch, [ok with { Data = new byte[7] }]);
        Bad(SafeTensorsErrorKind.DuplicateName, [ok, ok]);
        Bad(SafeTensorsErrorKind.InvalidShape, [ok with { Shape = [-2] }]);
        Bad(SafeTensorsErrorKind.InvalidShape, [ok with { Shape = [long.MaxValue, 2] }]);
        Bad(SafeTensorsErrorKind.InvalidHeaderEntry, [ok with { Name = "__metadata__" }]);
        Bad(SafeTensorsErrorKind.InvalidHeaderEntry, [ok with { Name = "bad\uD800" }]);
        Bad(SafeTensorsErrorKind.UnknownDType, [ok with { DType = (SafeTensorsDType)99 }]);
        Bad(SafeTensorsErrorKind.InvalidMetadata, [ok], new Dictionary<string, string> { ["k"] = "\uDC00" });
        Bad(SafeTensorsErrorKind.HeaderTooLarge,
            [ok], new Dictionary<string, string> { ["k"] = new string('x', (int)SafeTensorsHeader.MaxHeaderLength) });
    }

    [Fact]
    public void Write_replaces_atomically_and_io_errors_are_wrapped()
    {
        var path = _dir.File("model.safetensors");
        SafeTensorsWriter.Write(path, [new SafeTensorEntry("a", SafeTensorsDType.U8, [1], new byte[] { 1 })]);
        var before = File.ReadAllBytes(path);

        // The data source fails half-way through writing: the previous file stays intact and no temp file remains.
        var failing = new SafeTensorEntry("b", SafeTensorsDType.U8, [4], new FailingMemory(4).Memory);
        var ok = new SafeTensorEntry("a", SafeTensorsDType.U8, [1], new byte[] { 9 });
        var ex = Assert.Throws<InvalidOperationException>(() => SafeTensorsWriter.Write(path, [ok, failing]));
        Assert.Equal("boom", ex.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_dir.Path));

        // An enumeration that throws part-way leaves everything as it was too.
        static IEnumerable<SafeTensorEntry> Throwing()
        {
            yield return new SafeTensorEntry("x", SafeTensorsDType.U8, [1], new byte[1]);
            throw new InvalidOperationException("enumeration");
        }

        Assert.Throws<InvalidOperationException>(() => SafeTensorsWriter.Write(path, Throwing()));
        Assert.Equal(before, File.ReadAllBytes(path));

        var io = Assert.Throws<SafeTensorsException>(() =>
            SafeTensorsWriter.Write(Path.Combine(_dir.Path, "no-such-dir", "m.safetensors"), [ok]));
        Assert.Equal(SafeTensorsErrorKind.IoError, io.Kind);

        // A directory in the way of the rename fails cleanly.
        var blocked = _dir.File("blocked");
        Directory.CreateDirectory(blocked);
        Assert.Equal(SafeTensorsErrorKind.IoError, Assert.Throws<SafeTensorsException>(() => SafeTensorsWriter.Write(blocked, [ok])).Kind);
        Assert.Equal([path], Directory.GetFiles(_dir.Path));

        SafeTensorsWriter.Write(path, [ok]);
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(9, f.GetBytes("a")[0]);
    }

    private sealed class FailingMemory(int length) : MemoryManager<byte>
    {
        public override Span<byte> GetSpan() => throw new InvalidOperationException("boom");

        public override MemoryHandle Pin(int elementIndex = 0) => throw new NotSupportedException();

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }

        public new Memory<byte> Memory => CreateMemory(length);
    }

    // ---- Round trip property -------------------------------------------------------------------------------------

    private static readonly string[] NamePieces =
        ["a", "b", "Z", ".", "_", "0", "9", "weight", "é", "中", "😀", "\"", "\\", "\n", "\t", "\u0001", "\u007f", " ", "/", "\uFFFF"];

    private static readonly Gen<string> GenName = Gen.OneOf(NamePieces).Array[0, 5].Select(string.Concat);

    private static readonly Gen<SafeTensorEntry> GenEntry =
        Gen.Select(GenName, Gen.Int[0, 14], Gen.Long[0, 4].Array[0, 4])
            .SelectMany((name, d, shape) =>
            {
                var dtype = (SafeTensorsDType)d;
                var count = shape.Aggregate(1L, (a, b) => a * b);
                return Gen.Byte.Array[(int)(count * dtype.ElementSize())]
                    .Select(data => new SafeTensorEntry(name, dtype, shape, data));
            });

    private static readonly Gen<(SafeTensorEntry[] Entries, Dictionary<string, string>? Meta)> GenFile =
        Gen.Select(
            GenEntry.Array[0, 8].Select(a => a.DistinctBy(e => e.Name, StringComparer.Ordinal).ToArray()),
            Gen.Bool,
            Gen.Select(GenName, GenName).Array[0, 3])
        .Select((entries, hasMeta, pairs) => (entries,
            hasMeta ? pairs.DistinctBy(p => p.Item1, StringComparer.Ordinal).ToDictionary(p => p.Item1, p => p.Item2) : null));

    [Fact]
    public void Round_trip_property()
    {
        using var dir = new TempDir();
        var i = 0;
        GenFile.Sample(t =>
        {
            var (entries, meta) = t;
            var bytes = SafeTensorsWriter.Serialize(entries, meta);
            Assert.Equal(0, (bytes.Length - 8 - entries.Sum(e => e.Data.Length)) % 8);

            var path = dir.File($"rt{i++}.safetensors");
            SafeTensorsWriter.Write(path, entries, meta);
            Assert.Equal(bytes, File.ReadAllBytes(path));

            using var f = SafeTensorsFile.Open(path);
            Assert.Equal(entries.Length, f.Tensors.Count);
            foreach (var e in entries)
            {
                var info = f.GetTensor(e.Name);
                Assert.Equal(e.DType, info.DType);
                Assert.Equal(e.Shape, info.Shape);
                Assert.True(e.Data.Span.SequenceEqual(f.GetBytes(e.Name)));
                Assert.Equal(0, (f.DataStart + info.ByteOffset) % info.DType.ElementSize());
            }

            Assert.Equal(meta ?? new Dictionary<string, string>(), f.Metadata);

            // Re-serializing what was read reproduces the same bytes.
            var again = SafeTensorsWriter.Serialize(
                f.Tensors.Select(x => new SafeTensorEntry(x.Name, x.DType, x.Shape, f.GetBytes(x).ToArray())),
                meta is null ? null : f.Metadata);
            Assert.Equal(bytes, again);
        }, iter: 300, threads: 1);
    }

    [Fact]
    public void Rewriting_a_real_model_reads_back_identically()
    {
        var src = Path.Combine(Infrastructure.SharedData.Model("roberta-tiny"), "model.safetensors");
        var dst = _dir.File("copy.safetensors");
        using (var f = SafeTensorsFile.Open(src))
        {
            SafeTensorsWriter.Write(dst, f.Tensors.Select(t => new SafeTensorEntry(t.Name, t.DType, t.Shape, f.GetBytes(t).ToArray())), f.Metadata);
            using var g = SafeTensorsFile.Open(dst);
            Assert.Equal(f.Metadata, g.Metadata);
            Assert.Equal(f.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal), g.Tensors.Select(t => t.Name));
            foreach (var t in f.Tensors)
            {
                Assert.Equal(t.Shape, g.GetTensor(t.Name).Shape);
                Assert.True(f.GetBytes(t).SequenceEqual(g.GetBytes(t.Name)));
            }
        }
    }
}

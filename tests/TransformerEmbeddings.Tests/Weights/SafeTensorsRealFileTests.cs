using System.Buffers.Binary;
using System.Text.Json;
using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Weights;
using Xunit;

namespace TransformerEmbeddings.Tests.Weights;

public class SafeTensorsRealFileTests
{
    public static TheoryData<string> AllFiles()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(SharedData.TestModels, "*.safetensors", SearchOption.AllDirectories)
                     .Concat(Directory.GetFiles(SharedData.Golden, "*.safetensors")).Order(StringComparer.Ordinal))
            data.Add(Path.GetRelativePath(SharedData.Root, f));
        return data;
    }

    [Fact]
    public void Shared_folder_has_the_expected_safetensors_files() =>
        Assert.Equal(9, AllFiles().Count); // 5 model files (one sharded in two) + 4 golden files

    [Theory]
    [MemberData(nameof(AllFiles))]
    public void Opens_and_agrees_with_an_independent_json_parse(string relative)
    {
        var path = Path.Combine(SharedData.Root, relative);
        var bytes = File.ReadAllBytes(path);
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, n));

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(Path.GetFullPath(path), file.FilePath);
        Assert.Equal(bytes.Length, file.FileLength);
        Assert.Equal(8 + n, file.DataStart);

        var expected = doc.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__").ToList();
        Assert.Equal(expected.Count, file.Tensors.Count);
        Assert.True(file.Tensors.Count > 0);
        for (var i = 0; i < expected.Count; i++)
        {
            var e = expected[i];
            var t = file.Tensors[i]; // header order
            Assert.Equal(e.Name, t.Name);
            Assert.Equal(e.Value.GetProperty("dtype").GetString(), t.DType.ToHeaderString());
            Assert.Equal(e.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()), t.Shape);
            var offsets = e.Value.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            Assert.Equal(offsets[0], t.ByteOffset);
            Assert.Equal(offsets[1] - offsets[0], t.ByteLength);
            Assert.Equal(t.ElementCount * t.DType.ElementSize(), t.ByteLength);
            Assert.True(file.TryGetTensor(t.Name, out var found));
            Assert.Equal(t, found);
            var span = file.GetBytes(t.Name);
            Assert.True(span.SequenceEqual(bytes.AsSpan((int)(8 + n + t.ByteOffset), (int)t.ByteLength)));
        }

        Assert.Equal(bytes.Length - 8 - n, file.Tensors.Sum(t => t.ByteLength));
        if (doc.RootElement.TryGetProperty("__metadata__", out var meta))
        {
            Assert.Equal(meta.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!), file.Metadata);
        }
    }

    [Fact]
    public void Known_dtypes_and_shapes()
    {
        using (var f = SafeTensorsFile.Open(Path.Combine(SharedData.Model("bert-tiny-uncased"), "model.safetensors")))
        {
            var pos = f.GetTensor("embeddings.position_ids");
            Assert.Equal(SafeTensorsDType.I64, pos.DType);
            Assert.Equal(new long[] { 1, 512 }, pos.Shape);
            var ids = f.GetBytes("embeddings.position_ids");
            for (var i = 0; i < 512; i++) Assert.Equal(i, BinaryPrimitives.ReadInt64LittleEndian(ids.Slice(i * 8)));
            Assert.Equal(new long[] { 30522, 64 }, f.GetTensor("embeddings.word_embeddings.weight").Shape);
            Assert.All(f.Tensors.Where(t => t.Name != "embeddings.position_ids"), t => Assert.Equal(SafeTensorsDType.F32, t.DType));
            Assert.Equal("pt", f.Metadata["format"]);
        }

        using (var f = SafeTensorsFile.Open(Path.Combine(SharedData.Model("roberta-tiny"), "model.safetensors")))
            Assert.All(f.Tensors, t => Assert.Equal(SafeTensorsDType.F16, t.DType));

        var sharded = SharedData.Model("bert-tiny-cased-sharded");
        using var index = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(sharded, "model.safetensors.index.json")));
        var weightMap = index.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        var seen = new Dictionary<string, string>();
        long total = 0;
        foreach (var shard in weightMap.Values.Distinct())
        {
            using var f = SafeTensorsFile.Open(Path.Combine(sharded, shard));
            Assert.All(f.Tensors, t => Assert.Equal(SafeTensorsDType.BF16, t.DType));
            foreach (var t in f.Tensors)
            {
                seen.Add(t.Name, shard);
                total += t.ByteLength;
            }
        }

        Assert.Equal(weightMap, seen);
        Assert.Equal(index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64(), total);
    }

    [Fact]
    public void Bf16_conversion_matches_hand_computed_bits()
    {
        var shard = Directory.GetFiles(SharedData.Model("bert-tiny-cased-sharded"), "model-00001-*.safetensors").Single();
        using var f = SafeTensorsFile.Open(shard);
        var info = f.Tensors[0];
        var raw = f.GetBytes(info).ToArray();
        var converted = f.ReadFloat32(info.Name);
        Assert.Equal(info.ElementCount, converted.Length);
        foreach (var i in new[] { 0, 1, 2, 7, 100, converted.Length / 2, converted.Length - 1 })
        {
            // bfloat16 = the top half of a float32: place the two little-endian bytes in bytes 2..3 of a float32.
            var asFloat = BitConverter.ToSingle([0, 0, raw[2 * i], raw[2 * i + 1]]);
            Assert.Equal(BitConverter.SingleToInt32Bits(asFloat), BitConverter.SingleToInt32Bits(converted[i]));
        }

        Assert.Contains(converted, v => v != 0);
        Assert.All(converted, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void F16_conversion_matches_hand_computed_formula()
    {
        using var f = SafeTensorsFile.Open(Path.Combine(SharedData.Model("roberta-tiny"), "model.safetensors"));
        var info = f.Tensors.First(t => t.Name.EndsWith("LayerNorm.weight", StringComparison.Ordinal));
        var raw = f.GetBytes(info).ToArray();
        var converted = f.ReadFloat32(info.Name);
        for (var i = 0; i < converted.Length; i++)
        {
            var bits = raw[2 * i] | (raw[2 * i + 1] << 8);
            Assert.Equal(HandHalf(bits), converted[i]);
        }

        Assert.Contains(converted, v => v != 0 && v != 1);
    }

    /// <summary>IEEE binary16 decoded from first principles: sign, 5-bit exponent (bias 15), 10-bit mantissa.</summary>
    private static float HandHalf(int bits)
    {
        var sign = (bits & 0x8000) != 0 ? -1.0 : 1.0;
        var exp = (bits >> 10) & 0x1F;
        var mant = bits & 0x3FF;
        if (exp == 0x1F) return mant == 0 ? (float)(sign * double.PositiveInfinity) : float.NaN;
        if (exp == 0) return (float)(sign * mant * Math.Pow(2, -24));
        return (float)(sign * (1 + mant / 1024.0) * Math.Pow(2, exp - 15));
    }

    [Fact]
    public void Golden_files_hold_f32_and_i64()
    {
        using var f = SafeTensorsFile.Open(SharedData.GoldenFile("bert-tiny-uncased.safetensors"));
        Assert.Equal(new[] { SafeTensorsDType.F32, SafeTensorsDType.I64 }.Order(), f.Tensors.Select(t => t.DType).Distinct().Order());
        var mask = f.GetTensor("attention_mask");
        Assert.Equal(SafeTensorsDType.I64, mask.DType);
        var values = f.GetBytes(mask);
        for (var i = 0; i < mask.ElementCount; i++)
        {
            var v = BinaryPrimitives.ReadInt64LittleEndian(values.Slice(i * 8));
            Assert.True(v is 0 or 1);
        }

        var ex = Assert.Throws<SafeTensorsException>(() => f.ReadFloat32("attention_mask"));
        Assert.Equal(SafeTensorsErrorKind.UnsupportedConversion, ex.Kind);
    }
}

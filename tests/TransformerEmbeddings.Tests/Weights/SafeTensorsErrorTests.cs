using System.Text;
using TransformerEmbeddings.Weights;
using Xunit;
using static TransformerEmbeddings.Tests.Weights.SafeTensorsTestFiles;

namespace TransformerEmbeddings.Tests.Weights;

/// <summary>One hand-made bad file (or more) per <see cref="SafeTensorsErrorKind"/>.</summary>
public sealed class SafeTensorsErrorTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private const string Ok = "\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    private SafeTensorsException Fails(byte[] bytes, SafeTensorsErrorKind kind, string? tensor = null)
    {
        var path = _dir.Write($"bad-{Guid.NewGuid():N}.safetensors", bytes);
        var ex = Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Equal(kind, ex.Kind);
        Assert.Equal(path, ex.FilePath);
        Assert.Contains(path, ex.Message);
        Assert.Contains(kind.ToString(), ex.Message);
        if (tensor is not null)
        {
            Assert.Equal(tensor, ex.TensorName);
            Assert.Contains($"'{tensor}'", ex.Message);
        }

        Assert.IsAssignableFrom<TransformerEmbeddingsException>(ex);
        // The in-memory parser agrees with the file path.
        var mem = Assert.Throws<SafeTensorsException>(() => SafeTensorsHeader.Parse(bytes, "mem"));
        Assert.Equal(kind, mem.Kind);
        return ex;
    }

    private SafeTensorsFile Opens(byte[] bytes) => SafeTensorsFile.Open(_dir.Write($"ok-{Guid.NewGuid():N}.safetensors", bytes));

    [Fact]
    public void Baseline_is_valid()
    {
        using var f = Opens(Raw("{" + Ok + "}", 8));
        Assert.Single(f.Tensors);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    public void FileTooSmall(int length)
    {
        var ex = Fails(new byte[length], SafeTensorsErrorKind.FileTooSmall);
        Assert.Contains($"{length} bytes", ex.Message);
    }

    [Theory]
    [InlineData(100_000_001UL)]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 63)]
    public void HeaderTooLarge(ulong n)
    {
        var ex = Fails(WithLength(n, Encoding.UTF8.GetBytes("{}      "), []), SafeTensorsErrorKind.HeaderTooLarge);
        Assert.Contains(n.ToString(), ex.Message);
    }

    [Fact]
    public void HeaderOutOfBounds()
    {
        var ex = Fails(WithLength(100, Encoding.UTF8.GetBytes("{}      "), []), SafeTensorsErrorKind.HeaderOutOfBounds);
        Assert.Contains("16 bytes", ex.Message);
        Fails(WithLength(100_000_000, [], []), SafeTensorsErrorKind.HeaderOutOfBounds);
        Fails(WithLength(1, [], []), SafeTensorsErrorKind.HeaderOutOfBounds);
    }

    [Fact]
    public void HeaderNotUtf8()
    {
        var header = Encoding.UTF8.GetBytes("{\"t\xff\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}");
        header[3] = 0xFF;
        Fails(Raw(header, new byte[4]), SafeTensorsErrorKind.HeaderNotUtf8);
        Fails(Raw(new byte[] { (byte)'{', 0xC3, (byte)'}' }, []), SafeTensorsErrorKind.HeaderNotUtf8); // truncated sequence
        Fails(Raw(new byte[] { (byte)'{', 0xED, 0xA0, 0x80, (byte)'}' }, []), SafeTensorsErrorKind.HeaderNotUtf8); // encoded surrogate
    }

    [Theory]
    [InlineData("")]                                  // empty header
    [InlineData(" {}")]                               // must start with '{'
    [InlineData("\uFEFF{}")]                          // BOM
    [InlineData("[]")]
    [InlineData("{\"t\":")]                           // truncated
    [InlineData("{} x")]                              // trailing garbage
    [InlineData("{}{}")]                              // two values
    [InlineData("{/*c*/}")]                           // comment
    [InlineData("{\"a\":\"b\",}")]                    // trailing comma
    [InlineData("{\"a\":'b'}")]                       // single quotes
    [InlineData("{\"\\ud800\":{}}")]                  // lone surrogate escape
    [InlineData("{\"a\":\"\u0001\"}")]                // raw control character in a string
    [InlineData("{\"a\":01}")]                        // leading zero
    public void HeaderNotJson(string header) =>
        Fails(Raw(header, pad: header.Length > 0), SafeTensorsErrorKind.HeaderNotJson);

    [Fact]
    public void HeaderNotJson_too_deep() =>
        Fails(Raw("{\"a\":" + new string('[', 100) + new string(']', 100) + "}"), SafeTensorsErrorKind.HeaderNotJson);

    [Theory]
    [InlineData("{\"t\":3}")]
    [InlineData("{\"t\":[]}")]
    [InlineData("{\"t\":null}")]
    [InlineData("{\"t\":{\"shape\":[2],\"data_offsets\":[0,8]}}")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[2]}}")]
    [InlineData("{\"t\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[[2]],\"data_offsets\":[0,8]}}")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":{\"a\":0}}}")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-1,8]}}")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0.0,8]}}")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,\"8\"]}}")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}}")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"shape\":[2],\"data_offsets\":[0,8]}}")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"data_offsets\":[0,8]}}")]
    public void InvalidHeaderEntry(string header)
    {
        var ex = Fails(Raw(header, 8), SafeTensorsErrorKind.InvalidHeaderEntry, "t");
        Assert.DoesNotContain("unreachable", ex.Message);
    }

    [Theory]
    [InlineData("F4")]
    [InlineData("f32")]
    [InlineData("FLOAT")]
    [InlineData("")]
    [InlineData("F8_E8M0")]
    public void UnknownDType(string dtype)
    {
        var ex = Fails(Raw("{\"t\":{\"dtype\":\"" + dtype + "\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
            SafeTensorsErrorKind.UnknownDType, "t");
        Assert.Contains($"'{dtype}'", ex.Message);
        Assert.Contains("BF16", ex.Message); // lists what is supported
    }

    [Fact]
    public void DuplicateName()
    {
        Fails(Raw("{" + Ok + "," + Ok.Replace("[0,8]", "[8,16]") + "}", 16), SafeTensorsErrorKind.DuplicateName, "t");
        // The same name spelled with an escape is still the same name.
        Fails(Raw("{" + Ok + "," + Ok.Replace("\"t\"", "\"\\u0074\"").Replace("[0,8]", "[8,16]") + "}", 16),
            SafeTensorsErrorKind.DuplicateName, "t");
    }

    [Theory]
    [InlineData("[-1]")]
    [InlineData("[2,-3]")]
    [InlineData("[1.5]")]
    [InlineData("[2.0]")]
    [InlineData("[1e3]")]
    [InlineData("[18446744073709551616]")]            // > u64
    [InlineData("[9223372036854775808]")]             // > i64
    [InlineData("[4611686018427387904,4]")]           // element count overflows
    [InlineData("[4611686018427387904,2,0]")]         // overflows before the 0, as upstream's checked product does
    [InlineData("[2305843009213693952]")]             // 2^61 elements x 4 bytes overflows the byte count
    public void InvalidShape(string shape) =>
        Fails(Raw("{\"t\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[0,8]}}", 8),
            SafeTensorsErrorKind.InvalidShape, "t");

    [Fact]
    public void InvalidShape_rank_is_capped()
    {
        var dims = string.Join(",", Enumerable.Repeat("1", SafeTensorsHeader.MaxRank + 1));
        var ex = Fails(Raw("{\"t\":{\"dtype\":\"U8\",\"shape\":[" + dims + "],\"data_offsets\":[0,1]}}", 1),
            SafeTensorsErrorKind.InvalidShape, "t");
        Assert.Contains("64", ex.Message);
        // Exactly 64 dimensions is fine.
        dims = string.Join(",", Enumerable.Repeat("1", SafeTensorsHeader.MaxRank));
        using var f = Opens(Raw("{\"t\":{\"dtype\":\"U8\",\"shape\":[" + dims + "],\"data_offsets\":[0,1]}}", 1));
        Assert.Equal(64, f.Tensors[0].Shape.Count);
    }

    [Fact]
    public void SizeMismatch()
    {
        var ex = Fails(Raw("{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), SafeTensorsErrorKind.SizeMismatch, "t");
        Assert.Contains("12", ex.Message);
        Assert.Contains("8", ex.Message);
        Fails(Raw("{\"t\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[0,4]}}", 4), SafeTensorsErrorKind.SizeMismatch, "t");
        Fails(Raw("{\"t\":{\"dtype\":\"I64\",\"shape\":[0],\"data_offsets\":[0,8]}}", 8), SafeTensorsErrorKind.SizeMismatch, "t");
    }

    [Fact]
    public void OffsetsNotContiguous()
    {
        // First tensor does not start at 0.
        var ex = Fails(Raw("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12),
            SafeTensorsErrorKind.OffsetsNotContiguous, "t");
        Assert.Contains("offset 0", ex.Message);
        // A hole.
        ex = Fails(Raw("{" + Ok + ",\"u\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16),
            SafeTensorsErrorKind.OffsetsNotContiguous, "u");
        Assert.Contains("hole of 4", ex.Message);
        // An overlap.
        ex = Fails(Raw("{" + Ok + ",\"u\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8),
            SafeTensorsErrorKind.OffsetsNotContiguous, "u");
        Assert.Contains("overlap", ex.Message);
        // Two tensors sharing the same bytes.
        Fails(Raw("{" + Ok + "," + Ok.Replace("\"t\"", "\"u\"") + "}", 8), SafeTensorsErrorKind.OffsetsNotContiguous, "u");
    }

    [Fact]
    public void DataPastEndOfFile()
    {
        var ex = Fails(Raw("{" + Ok + "}", 4), SafeTensorsErrorKind.DataPastEndOfFile);
        Assert.Contains("8", ex.Message);
        Assert.Contains("4", ex.Message);
        Fails(Raw("{" + Ok + "}", 0), SafeTensorsErrorKind.DataPastEndOfFile);
    }

    [Fact]
    public void TrailingData()
    {
        var ex = Fails(Raw("{" + Ok + "}", 9), SafeTensorsErrorKind.TrailingData);
        Assert.Contains("1 bytes are unaccounted", ex.Message);
        Fails(Raw("{}", 1), SafeTensorsErrorKind.TrailingData);
    }

    [Theory]
    [InlineData("{\"__metadata__\":[]}")]
    [InlineData("{\"__metadata__\":\"pt\"}")]
    [InlineData("{\"__metadata__\":{\"format\":1}}")]
    [InlineData("{\"__metadata__\":{\"format\":null}}")]
    [InlineData("{\"__metadata__\":{\"format\":{\"a\":\"b\"}}}")]
    [InlineData("{\"__metadata__\":{\"format\":\"pt\",\"format\":\"np\"}}")]
    [InlineData("{\"__metadata__\":{},\"__metadata__\":{}}")]
    public void InvalidMetadata(string header) => Fails(Raw(header), SafeTensorsErrorKind.InvalidMetadata);

    [Fact]
    public void MissingTensor()
    {
        using var f = Opens(Raw("{" + Ok + "}", 8));
        var ex = Assert.Throws<SafeTensorsException>(() => f.GetBytes("nope").ToArray());
        Assert.Equal(SafeTensorsErrorKind.MissingTensor, ex.Kind);
        Assert.Equal("nope", ex.TensorName);
        Assert.Equal(SafeTensorsErrorKind.MissingTensor, Assert.Throws<SafeTensorsException>(() => f.GetTensor("T")).Kind);
        Assert.False(f.TryGetTensor("T", out _));
    }

    [Fact]
    public void UnsupportedConversion()
    {
        using var f = Opens(Raw("{\"t\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8));
        Assert.Equal(SafeTensorsErrorKind.UnsupportedConversion, Assert.Throws<SafeTensorsException>(() => f.ReadFloat32("t")).Kind);
    }

    [Fact]
    public void IoError_missing_file()
    {
        var path = _dir.File("does-not-exist.safetensors");
        var ex = Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Open(path));
        Assert.Equal(SafeTensorsErrorKind.IoError, ex.Kind);
        Assert.IsAssignableFrom<IOException>(ex.InnerException);
        Assert.Equal(SafeTensorsErrorKind.IoError, Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Open(_dir.Path)).Kind);
    }

    [Fact]
    public void TensorTooLarge_for_a_span_but_reachable_by_pointer()
    {
        long big = (1L << 31) + 8;
        var header = Encoding.UTF8.GetBytes("{\"big\":{\"dtype\":\"U8\",\"shape\":[" + big + "],\"data_offsets\":[0," + big + "]}}");
        var prefix = Raw(header, []);
        var path = _dir.File("big.safetensors");
        using (var fs = new FileStream(path, FileMode.CreateNew))
        {
            fs.Write(prefix);
            fs.SetLength(prefix.Length + big); // sparse: no real disk use
        }

        using var f = SafeTensorsFile.Open(path);
        var info = f.GetTensor("big");
        var ex = Assert.Throws<SafeTensorsException>(() => f.GetBytes("big").ToArray());
        Assert.Equal(SafeTensorsErrorKind.TensorTooLarge, ex.Kind);
        Assert.Equal(0, System.Runtime.InteropServices.Marshal.ReadByte(f.GetAddress(info) + (nint)(big - 1)));
    }

    [Fact]
    public void Every_error_kind_has_a_test()
    {
        var tested = typeof(SafeTensorsErrorTests).GetMethods().Select(m => m.Name.Split('_')[0]).ToHashSet();
        Assert.All(Enum.GetNames<SafeTensorsErrorKind>(), k => Assert.Contains(k, tested));
    }
}

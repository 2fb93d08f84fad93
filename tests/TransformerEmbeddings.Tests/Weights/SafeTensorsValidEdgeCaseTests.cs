using System.Text;
using TransformerEmbeddings.Weights;
using Xunit;
using static TransformerEmbeddings.Tests.Weights.SafeTensorsTestFiles;

namespace TransformerEmbeddings.Tests.Weights;

public sealed class SafeTensorsValidEdgeCaseTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private SafeTensorsFile Opens(byte[] bytes) => SafeTensorsFile.Open(_dir.Write($"ok-{Guid.NewGuid():N}.safetensors", bytes));

    [Fact]
    public void Empty_header_object_without_padding_or_data()
    {
        using var f = Opens(Raw("{}", pad: false));
        Assert.Empty(f.Tensors);
        Assert.Empty(f.Metadata);
        Assert.Equal(10, f.DataStart);
    }

    [Fact]
    public void Header_order_need_not_be_offset_order_and_whitespace_is_allowed()
    {
        var header = "{ \"b\" : {\"data_offsets\":[4,6],\"shape\":[1],\"dtype\":\"F16\"},\n" +
                     "\t\"__metadata__\": null, \"a\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]}}\r\n";
        var data = new byte[] { 1, 2, 3, 4, 5, 6 };
        using var f = Opens(Raw(Encoding.UTF8.GetBytes(header), data, pad: false));
        Assert.Equal(["b", "a"], f.Tensors.Select(t => t.Name));
        Assert.Equal([1, 2, 3, 4], f.GetBytes("a").ToArray());
        Assert.Equal([5, 6], f.GetBytes("b").ToArray());
        Assert.Empty(f.Tensors[1].Shape);
        Assert.Equal(1, f.Tensors[1].ElementCount);
        Assert.Empty(f.Metadata);
    }

    [Fact]
    public void Zero_sized_tensors_anywhere()
    {
        var header = "{\"e1\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]}," +
                     "\"x\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}," +
                     "\"e2\":{\"dtype\":\"F64\",\"shape\":[5,0],\"data_offsets\":[2,2]}," +
                     "\"__metadata__\":{\"format\":\"pt\",\"\":\"\\\"quoted\\\" \\u00e9\"}}";
        using var f = Opens(Raw(header, 2));
        Assert.Equal(3, f.Tensors.Count);
        Assert.Equal(0, f.GetBytes("e1").Length);
        Assert.Equal(0, f.GetBytes("e2").Length);
        Assert.Equal(0, f.Tensors[0].ElementCount);
        Assert.Equal("\"quoted\" é", f.Metadata[""]);
        Assert.Equal("pt", f.Metadata["format"]);
    }

    [Fact]
    public void Unicode_and_escaped_names()
    {
        var header = "{\"\\u4e2d\\ud83d\\ude00.w\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[0,1]}," +
                     "\"é\\n\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[1,2]}}";
        using var f = Opens(Raw(header, 2));
        Assert.True(f.TryGetTensor("中😀.w", out var a));
        Assert.Equal(SafeTensorsDType.BOOL, a.DType);
        Assert.True(f.TryGetTensor("é\n", out _));
    }

    [Fact]
    public void Pointer_and_span_agree_and_dispose_invalidates()
    {
        var f = Opens(Raw("{\"t\":{\"dtype\":\"U16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, fill: 7));
        var info = f.Tensors[0];
        Assert.Equal(7, System.Runtime.InteropServices.Marshal.ReadByte(f.GetAddress(info), 3));

        Assert.Throws<ArgumentException>(() => f.GetBytes(info with { ByteOffset = 2 }).ToArray());
        Assert.Throws<ArgumentException>(() => f.GetBytes(info with { Name = "other" }).ToArray());
        f.Dispose();
        f.Dispose();
        Assert.Throws<ObjectDisposedException>(() => f.GetBytes("t").ToArray());
    }

    [Fact]
    public void File_can_be_replaced_while_open()
    {
        var path = _dir.Write("live.safetensors", Raw("{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, fill: 1));
        using var f = SafeTensorsFile.Open(path);
        if (OperatingSystem.IsWindows())
        {
            // Windows refuses to replace a file with a live mapping: the write fails cleanly and the old file stays.
            var ex = Assert.Throws<SafeTensorsException>(() =>
                SafeTensorsWriter.Write(path, [new SafeTensorEntry("t", SafeTensorsDType.U8, [1], new byte[] { 2 })]));
            Assert.Equal(SafeTensorsErrorKind.IoError, ex.Kind);
            Assert.Equal(1, f.GetBytes("t")[0]);
            return;
        }

        SafeTensorsWriter.Write(path, [new SafeTensorEntry("t", SafeTensorsDType.U8, [1], new byte[] { 2 })]);
        Assert.Equal(1, f.GetBytes("t")[0]);
        using var g = SafeTensorsFile.Open(path);
        Assert.Equal(2, g.GetBytes("t")[0]);
    }

    [Fact]
    public void Info_equality_is_by_value()
    {
        var a = new SafeTensorInfo("x", SafeTensorsDType.F32, new long[] { 2, 3 }, 0, 24);
        var b = new SafeTensorInfo("x", SafeTensorsDType.F32, new List<long> { 2, 3 }, 0, 24);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, b with { Shape = [3, 2] });
        Assert.Equal(6, a.ElementCount);
        Assert.Equal(1, new SafeTensorInfo("s", SafeTensorsDType.U8, [], 0, 1).ElementCount);
    }
}

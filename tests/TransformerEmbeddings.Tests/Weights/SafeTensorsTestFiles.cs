using System.Buffers.Binary;
using System.Text;

namespace TransformerEmbeddings.Tests.Weights;

/// <summary>Builds raw safetensors bytes by hand and hands out throw-away temp folders.</summary>
internal static class SafeTensorsTestFiles
{
    /// <summary>8-byte LE length + header (padded with spaces to 8 when <paramref name="pad"/>) + data.</summary>
    public static byte[] Raw(string header, int dataLength = 0, bool pad = true, byte fill = 0xAB)
    {
        var h = Encoding.UTF8.GetBytes(header);
        return Raw(h, new byte[dataLength].Select(_ => fill).ToArray(), pad);
    }

    public static byte[] Raw(byte[] header, byte[] data, bool pad = true)
    {
        var padded = header.ToList();
        if (pad) while (padded.Count % 8 != 0) padded.Add((byte)' ');
        return WithLength((ulong)padded.Count, padded.ToArray(), data);
    }

    /// <summary>An arbitrary length prefix followed by the given bytes.</summary>
    public static byte[] WithLength(ulong n, byte[] header, byte[] data)
    {
        var result = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(result, n);
        header.CopyTo(result, 8);
        data.CopyTo(result, 8 + header.Length);
        return result;
    }
}

/// <summary>A temp folder deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "te-weights-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, byte[] bytes)
    {
        var p = File(name);
        System.IO.File.WriteAllBytes(p, bytes);
        return p;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

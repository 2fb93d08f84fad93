using System.Runtime.InteropServices;
using System.Text;

namespace TransformerEmbeddings.Cli.Output;

/// <summary>
/// NumPy <c>.npy</c> (version 1.0, <c>&lt;f4</c> or a quantized <c>|i1</c>/<c>|u1</c>, C order, [rows, columns]). The row count is known only at the end, so the
/// header is a fixed 128 bytes (room for any count), written first as a placeholder and rewritten when complete.
/// </summary>
internal sealed class NpyWriter : EmbeddingWriter
{
    internal const int HeaderLength = 128;

    private readonly PartialFiles files;
    private readonly FileStream stream;

    public NpyWriter(PartialFiles files, RowFormat format) : base(format)
    {
        this.files = files;
        stream = PartialFiles.Open(files.Data, FileMode.OpenOrCreate, 1 << 16);
        var rowBytes = format.RowBytes;
        if (files.Resuming && stream.Length >= HeaderLength)
        {
            Rows = (stream.Length - HeaderLength) / rowBytes;
            stream.SetLength(HeaderLength + Rows * rowBytes);
            stream.Position = stream.Length;
        }
        else
        {
            stream.SetLength(0);
            stream.Write(Header(0, format));
        }
    }

    internal static byte[] Header(long rows, RowFormat format)
    {
        var dict = $"{{'descr': '{format.NpyDescr}', 'fortran_order': False, 'shape': ({rows}, {format.Columns}), }}";
        // magic (6) + version (2) + length (2) + dict + padding + '\n' = 128 (a multiple of 64).
        var header = dict.PadRight(HeaderLength - 10 - 1) + "\n";
        var bytes = new byte[HeaderLength];
        bytes[0] = 0x93;
        Encoding.ASCII.GetBytes("NUMPY").CopyTo(bytes, 1);
        bytes[6] = 1;
        bytes[7] = 0;
        BitConverter.TryWriteBytes(bytes.AsSpan(8, 2), (ushort)header.Length);
        Encoding.ASCII.GetBytes(header).CopyTo(bytes, 10);
        return bytes;
    }

    public override void Write(string? id, long index, ReadOnlySpan<float> vector)
    {
        if (vector.Length != Dimension) throw new CliException($"row {Rows} has {vector.Length} values, expected {Dimension}.");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian hosts are not supported.");
        stream.Write(MemoryMarshal.AsBytes(vector));
        Rows++;
    }

    public override void Write(string? id, long index, ReadOnlySpan<byte> row)
    {
        if (row.Length != Format.RowBytes) throw new CliException($"row {Rows} has {row.Length} bytes, expected {Format.RowBytes}.");
        stream.Write(row);
        Rows++;
    }

    public override void Checkpoint() => stream.Flush(flushToDisk: true);

    public override void Complete()
    {
        stream.Position = 0;
        stream.Write(Header(Rows, Format));
        stream.Flush(flushToDisk: true);
        stream.Dispose();
        files.Commit(files.Data);
    }

    public override void Discard()
    {
        Quietly(stream);
        files.Delete();
    }

    public override void Dispose() => Quietly(stream);
}

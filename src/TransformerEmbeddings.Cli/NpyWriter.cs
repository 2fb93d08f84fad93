using System.Text;

namespace TransformerEmbeddings.Cli;

/// <summary>
/// Streams a float32 [rows, columns] array into NumPy's .npy format (version 1.0, little-endian, C order), through a
/// temporary file that replaces the target only when every row was written.
/// </summary>
internal sealed class NpyWriter : IDisposable
{
    private readonly string target;
    private readonly string temp;
    private readonly FileStream stream;
    private readonly long rows;
    private readonly int columns;
    private long written;
    private bool committed;

    public NpyWriter(string path, long rows, int columns)
    {
        target = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(target)!;
        if (!Directory.Exists(dir)) throw new CliException($"output folder '{dir}' does not exist.");
        temp = Path.Combine(dir, $".{Path.GetFileName(target)}.{Environment.ProcessId}.tmp");
        this.rows = rows;
        this.columns = columns;
        stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        stream.Write(Header(rows, columns));
    }

    internal static byte[] Header(long rows, int columns)
    {
        var dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {columns}), }}";
        // magic (6) + version (2) + length (2) + dict + padding + '\n' is a multiple of 64.
        var total = (10 + dict.Length + 1 + 63) / 64 * 64;
        var header = dict.PadRight(total - 10 - 1) + "\n";
        var bytes = new byte[total];
        bytes[0] = 0x93;
        Encoding.ASCII.GetBytes("NUMPY").CopyTo(bytes, 1);
        bytes[6] = 1;
        bytes[7] = 0;
        BitConverter.TryWriteBytes(bytes.AsSpan(8, 2), (ushort)header.Length);
        Encoding.ASCII.GetBytes(header).CopyTo(bytes, 10);
        return bytes;
    }

    public void WriteRow(ReadOnlySpan<float> row)
    {
        if (row.Length != columns) throw new InvalidOperationException($"row {written} has {row.Length} values, expected {columns}.");
        if (written == rows) throw new InvalidOperationException($"more than the {rows} announced rows.");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian hosts are not supported.");
        stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(row));
        written++;
    }

    /// <summary>Flushes and moves the file into place; before this the target is untouched.</summary>
    public void Commit()
    {
        if (written != rows) throw new InvalidOperationException($"{written} of {rows} rows were written.");
        stream.Flush(flushToDisk: true);
        stream.Dispose();
        File.Move(temp, target, overwrite: true);
        committed = true;
    }

    public void Dispose()
    {
        stream.Dispose();
        if (!committed && File.Exists(temp)) File.Delete(temp);
    }
}

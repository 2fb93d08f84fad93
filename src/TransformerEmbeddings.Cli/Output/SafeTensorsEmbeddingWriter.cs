using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace TransformerEmbeddings.Cli.Output;

/// <summary>
/// safetensors: one tensor <c>embeddings</c> [rows, dimension] (F32, or I8/U8 when quantized); when the input gave ids, <c>__metadata__["ids"]</c>
/// holds them as a JSON array (a string, as safetensors metadata must be). The header depends on the row count, so rows
/// (and ids, one per line) go to partial files and the file is assembled when complete.
/// </summary>
internal sealed class SafeTensorsEmbeddingWriter : EmbeddingWriter
{
    private readonly PartialFiles files;
    private readonly FileStream data;
    private readonly FileStream? ids;

    public SafeTensorsEmbeddingWriter(PartialFiles files, RowFormat format, bool withIds) : base(format)
    {
        this.files = files;
        data = PartialFiles.Open(files.Data, FileMode.OpenOrCreate, 1 << 16);
        ids = withIds ? PartialFiles.Open(files.Ids, FileMode.OpenOrCreate, 1 << 14) : null;
        if (!files.Resuming)
        {
            data.SetLength(0);
            ids?.SetLength(0);
            return;
        }
        var rowBytes = format.RowBytes;
        Rows = data.Length / rowBytes;
        if (ids is not null) Rows = Math.Min(Rows, TrimToWholeLines(ids));
        data.SetLength(Rows * rowBytes);
        data.Position = data.Length;
        if (ids is not null) TrimToLines(ids, Rows);
    }

    public override void Write(string? id, long index, ReadOnlySpan<float> vector)
    {
        if (vector.Length != Dimension) throw new CliException($"row {Rows} has {vector.Length} values, expected {Dimension}.");
        Append(id, index, MemoryMarshal.AsBytes(vector));
    }

    public override void Write(string? id, long index, ReadOnlySpan<byte> row)
    {
        if (row.Length != Format.RowBytes) throw new CliException($"row {Rows} has {row.Length} bytes, expected {Format.RowBytes}.");
        Append(id, index, row);
    }

    private void Append(string? id, long index, ReadOnlySpan<byte> bytes)
    {
        data.Write(bytes);
        if (ids is not null)
        {
            ids.Write(Encoding.UTF8.GetBytes(id ?? index.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            ids.WriteByte((byte)'\n');
        }
        Rows++;
    }

    public override void Checkpoint()
    {
        data.Flush(flushToDisk: true);
        ids?.Flush(flushToDisk: true);
    }

    public override void Complete()
    {
        Checkpoint();
        var header = Header();
        using (var final = PartialFiles.Open(files.Final, FileMode.Create, 1 << 16))
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            final.Write(prefix);
            final.Write(header);
            data.Position = 0;
            data.CopyTo(final);
            final.Flush(flushToDisk: true);
        }
        data.Dispose();
        ids?.Dispose();
        files.Commit(files.Final);
    }

    /// <summary>The compact JSON header, padded with spaces to a multiple of 8 bytes.</summary>
    private byte[] Header()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (ids is not null || Quantization is not null)
            {
                w.WriteStartObject("__metadata__");
                if (ids is not null) w.WriteString("ids", IdsArray());
                if (Quantization is not null) w.WriteString("quantization", Quantization);
                w.WriteEndObject();
            }
            w.WriteStartObject("embeddings");
            w.WriteString("dtype", Format.SafeTensorsDType);
            w.WriteStartArray("shape");
            w.WriteNumberValue(Rows);
            w.WriteNumberValue(Dimension);
            w.WriteEndArray();
            w.WriteStartArray("data_offsets");
            w.WriteNumberValue(0);
            w.WriteNumberValue(Rows * Format.RowBytes);
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        while (buffer.Length % 8 != 0) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    private string IdsArray()
    {
        ids!.Position = 0;
        using var reader = new StreamReader(ids, Encoding.UTF8, false, 1 << 14, leaveOpen: true);
        var text = new StringBuilder("[");
        var first = true;
        while (reader.ReadLine() is { } line)
        {
            if (!first) text.Append(',');
            text.Append(line);
            first = false;
        }
        return text.Append(']').ToString();
    }

    /// <summary>Keeps the first <paramref name="lines"/> lines of a file.</summary>
    private static void TrimToLines(FileStream stream, long lines)
    {
        var buffer = new byte[1 << 16];
        long seen = 0, position = 0, end = 0;
        stream.Position = 0;
        int n;
        while (seen < lines && (n = stream.Read(buffer)) > 0)
        {
            for (var i = 0; i < n; i++)
            {
                if (buffer[i] != (byte)'\n' || ++seen < lines) continue;
                end = position + i + 1;
                break;
            }
            position += n;
        }
        stream.SetLength(end);
        stream.Position = end;
    }

    public override void Discard()
    {
        Quietly(data);
        Quietly(ids);
        files.Delete();
    }

    public override void Dispose()
    {
        Quietly(data);
        Quietly(ids);
    }
}

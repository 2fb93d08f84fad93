using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace TransformerEmbeddings.Cli.Output;

/// <summary>
/// JSON lines: <c>{"id": …, "embedding": [...]}</c> per row in input order; the id is the input's id field, else the
/// row's 0-based input position. Floats are written as the shortest text that reads back to the same float32; quantized
/// rows as integers (-128..127 or 0..255).
/// </summary>
internal sealed class JsonLinesWriter : EmbeddingWriter
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };
    private readonly PartialFiles? files;
    private readonly Stream stream;
    private readonly ArrayBufferWriter<byte> line = new(1 << 14);
    private readonly Utf8JsonWriter json;

    /// <summary>To standard output (not resumable).</summary>
    public JsonLinesWriter(Stream stdout, RowFormat format) : base(format)
    {
        stream = new BufferedStream(stdout, 1 << 16);
        json = new Utf8JsonWriter(line, WriterOptions);
    }

    /// <summary>To a file, through its partial files.</summary>
    public JsonLinesWriter(PartialFiles files, RowFormat format) : base(format)
    {
        this.files = files;
        var file = PartialFiles.Open(files.Data, FileMode.OpenOrCreate, 1 << 16);
        if (files.Resuming) Rows = TrimToWholeLines(file);
        else file.SetLength(0);
        stream = file;
        json = new Utf8JsonWriter(line, WriterOptions);
    }

    public override void Write(string? id, long index, ReadOnlySpan<float> vector)
    {
        Start(id, index);
        foreach (var v in vector) json.WriteNumberValue(v);
        End();
    }

    public override void Write(string? id, long index, ReadOnlySpan<byte> row)
    {
        Start(id, index);
        foreach (var b in row) json.WriteNumberValue(Format.Type == RowType.Int8 ? (sbyte)b : b);
        End();
    }

    private void Start(string? id, long index)
    {
        line.ResetWrittenCount();
        json.Reset(line);
        json.WriteStartObject();
        json.WritePropertyName("id"u8);
        if (id is null) json.WriteNumberValue(index);
        else json.WriteRawValue(id, skipInputValidation: true);
        json.WriteStartArray("embedding"u8);
    }

    private void End()
    {
        json.WriteEndArray();
        json.WriteEndObject();
        json.Flush();
        stream.Write(line.WrittenSpan);
        stream.WriteByte((byte)'\n');
        Rows++;
    }

    public override void Checkpoint()
    {
        if (stream is FileStream f) f.Flush(flushToDisk: true);
        else stream.Flush();
    }

    public override void Complete()
    {
        Checkpoint();
        if (files is null) return;
        stream.Dispose();
        files.Commit(files.Data);
    }

    public override void Discard()
    {
        if (files is null) return;
        Quietly(stream);
        files.Delete();
    }

    public override void Dispose()
    {
        json.Dispose();
        if (files is null) stream.Flush(); // standard output: what was written must reach the reader
        Quietly(stream);
    }
}

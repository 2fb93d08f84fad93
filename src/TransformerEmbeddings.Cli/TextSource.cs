using System.Text;
using System.Text.Json;

namespace TransformerEmbeddings.Cli;

/// <summary>One input text: its 0-based position in the whole input, the text, and its id as raw JSON (null: none given).</summary>
internal readonly record struct InputRecord(long Index, string Text, string? Id);

/// <summary>The input formats of <c>te embed</c>.</summary>
internal enum InputFormat
{
    /// <summary>One text per line (empty lines are texts too).</summary>
    Text,

    /// <summary>One JSON value per line: a string, or an object with the text field (blank lines are skipped).</summary>
    JsonLines,

    /// <summary>A JSON array of strings or objects, or <c>{"sentences": [...]}</c>.</summary>
    Json,
}

/// <summary>
/// The texts of <c>te embed</c>, read once and streamed: a file or standard input (<c>-</c>), in the format its
/// extension names (<c>.jsonl</c>/<c>.ndjson</c>, <c>.json</c>, anything else one text per line) unless given. Objects
/// give their text in <see cref="Field"/> and, when <see cref="IdField"/> is set, their id (a string or a number).
/// </summary>
internal sealed class TextSource : IDisposable
{
    private readonly Stream stream;
    private readonly string name;

    private TextSource(Stream stream, string name, InputFormat format, string field, string? idField)
    {
        this.stream = stream;
        this.name = name;
        Format = format;
        Field = field;
        IdField = idField;
    }

    public InputFormat Format { get; }

    public string Field { get; }

    public string? IdField { get; }

    /// <summary>The input's size in bytes, when it is a file.</summary>
    public long? Length => stream.CanSeek ? stream.Length : null;

    /// <summary>Bytes read so far (file inputs; the reader's buffer ahead included).</summary>
    public long Position => stream.CanSeek ? stream.Position : 0;

    public static TextSource Open(string path, InputFormat? format, string field, string? idField)
    {
        if (path == "-")
            return new TextSource(Console.OpenStandardInput(), "standard input", format ?? InputFormat.Text, field, idField);
        if (!File.Exists(path)) throw new CliException($"input file '{path}' does not exist.");
        var detected = format ?? Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".jsonl" or ".ndjson" => InputFormat.JsonLines,
            ".json" => InputFormat.Json,
            _ => InputFormat.Text,
        };
        if (detected == InputFormat.Text && idField is not null)
            throw new CliException($"--id-field needs JSON input (.jsonl or .json); '{path}' is read as one text per line.");
        return new TextSource(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16), path, detected, field, idField);
    }

    /// <summary>Every record, in input order.</summary>
    public IEnumerable<InputRecord> Read() => Format switch
    {
        InputFormat.JsonLines => ReadJsonLines(),
        InputFormat.Json => ReadJson(),
        _ => ReadLines(),
    };

    private IEnumerable<InputRecord> ReadLines()
    {
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, 1 << 16, leaveOpen: true);
        long index = 0;
        while (reader.ReadLine() is { } line) yield return new InputRecord(index++, line, null);
    }

    private IEnumerable<InputRecord> ReadJsonLines()
    {
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, 1 << 16, leaveOpen: true);
        long index = 0, lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(line);
            }
            catch (JsonException e)
            {
                throw new CliException($"{name}:{lineNumber}: not valid JSON: {e.Message}");
            }
            using (doc)
            {
                var (text, id) = FromElement(doc.RootElement, $"{name}:{lineNumber}");
                yield return new InputRecord(index++, text, id);
            }
        }
    }

    private IEnumerable<InputRecord> ReadJson()
    {
        // Peek at the first non-space byte: an array streams element by element, an object is the legacy {"sentences": [...]}.
        var buffered = new BufferedStream(stream, 1 << 16);
        int first;
        do first = buffered.ReadByte(); while (first is ' ' or '\t' or '\r' or '\n' or 0xEF or 0xBB or 0xBF);
        var rest = new PrefixedStream((byte)Math.Max(first, 0), buffered);
        if (first == '{')
        {
            using var doc = Parse(rest);
            if (!doc.RootElement.TryGetProperty("sentences", out var s) || s.ValueKind != JsonValueKind.Array)
                throw new CliException($"{name}: expected an array of strings or objects, or {{\"sentences\": [...]}}.");
            long i = 0;
            foreach (var e in s.EnumerateArray())
            {
                var (text, id) = FromElement(e, $"{name}: sentences[{i}]");
                yield return new InputRecord(i++, text, id);
            }
            yield break;
        }
        if (first != '[') throw new CliException($"{name}: expected a JSON array of strings or objects, or {{\"sentences\": [...]}}.");
        long index = 0;
        using var elements = JsonSerializer.DeserializeAsyncEnumerable<JsonElement>(rest).ToBlockingEnumerable().GetEnumerator();
        while (true)
        {
            try
            {
                if (!elements.MoveNext()) break;
            }
            catch (JsonException e)
            {
                throw new CliException($"{name}: not valid JSON: {e.Message}");
            }
            var (text, id) = FromElement(elements.Current, $"{name}: item {index}");
            yield return new InputRecord(index++, text, id);
        }
    }

    private JsonDocument Parse(Stream s)
    {
        try
        {
            return JsonDocument.Parse(s);
        }
        catch (JsonException e)
        {
            throw new CliException($"{name}: not valid JSON: {e.Message}");
        }
    }

    private (string Text, string? Id) FromElement(JsonElement e, string where)
    {
        if (e.ValueKind == JsonValueKind.String)
        {
            if (IdField is not null) throw new CliException($"{where}: a plain string has no '{IdField}' field; give objects, or drop --id-field.");
            return (e.GetString()!, null);
        }
        if (e.ValueKind != JsonValueKind.Object)
            throw new CliException($"{where}: expected a JSON string or an object with a \"{Field}\" string; found {e.ValueKind}.");
        if (!e.TryGetProperty(Field, out var t) || t.ValueKind != JsonValueKind.String)
            throw new CliException($"{where}: the object has no \"{Field}\" string (choose the field with --field).");
        string? id = null;
        if (IdField is not null)
        {
            if (!e.TryGetProperty(IdField, out var i) || i.ValueKind is not (JsonValueKind.String or JsonValueKind.Number))
                throw new CliException($"{where}: the object has no \"{IdField}\" string or number (--id-field).");
            id = i.GetRawText();
        }
        return (t.GetString()!, id);
    }

    public void Dispose() => stream.Dispose();

    /// <summary>A stream with one byte put back in front (the peeked first byte of a JSON file).</summary>
    private sealed class PrefixedStream(byte first, Stream inner) : Stream
    {
        private bool pending = true;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (buffer.Length == 0) return 0;
            if (!pending) return inner.Read(buffer);
            pending = false;
            buffer[0] = first;
            return 1 + inner.Read(buffer[1..]);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

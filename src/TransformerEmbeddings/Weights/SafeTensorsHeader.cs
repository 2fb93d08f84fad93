using System.Buffers.Binary;
using System.Collections.ObjectModel;
using System.Text.Json;
using System.Text.Unicode;

namespace TransformerEmbeddings.Weights;

/// <summary>
/// The parsed and fully validated header of a safetensors file. Parsing reads only the first 8 + N bytes (the length
/// prefix and the header); the data section is checked by arithmetic alone.
/// </summary>
internal sealed class SafeTensorsHeader
{
    /// <summary>Upstream's limit on the header length (safetensors <c>MAX_HEADER_SIZE</c>).</summary>
    public const long MaxHeaderLength = 100_000_000;

    /// <summary>Our cap on a tensor's rank, so a header cannot make us allocate a huge shape (PyTorch allows 64 too).</summary>
    public const int MaxRank = 64;

    /// <summary>The JSON nesting the parser accepts; a valid header needs 3.</summary>
    private const int MaxJsonDepth = 64;

    private const string MetadataKey = "__metadata__";

    private SafeTensorsHeader(
        SafeTensorInfo[] tensors,
        Dictionary<string, SafeTensorInfo> byName,
        IReadOnlyDictionary<string, string> metadata,
        long headerLength)
    {
        Tensors = Array.AsReadOnly(tensors);
        ByName = byName;
        Metadata = metadata;
        HeaderLength = headerLength;
    }

    /// <summary>The tensors in header (text) order.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }

    /// <summary>The tensors by name (ordinal).</summary>
    public Dictionary<string, SafeTensorInfo> ByName { get; }

    /// <summary>The <c>__metadata__</c> map; empty when absent or null.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>N, the header's byte length (spaces of padding included).</summary>
    public long HeaderLength { get; }

    /// <summary>Where the data section starts in the file: 8 + N.</summary>
    public long DataStart => 8 + HeaderLength;

    /// <summary>Parses and validates a whole file held in memory.</summary>
    public static SafeTensorsHeader Parse(ReadOnlySpan<byte> file, string path) => Parse(file, file.Length, path);

    /// <summary>
    /// Parses and validates. <paramref name="head"/> holds the first min(<paramref name="fileLength"/>, 8 + 100,000,000)
    /// bytes of the file (or more); nothing past 8 + N is read.
    /// </summary>
    public static SafeTensorsHeader Parse(ReadOnlySpan<byte> head, long fileLength, string path)
    {
        if (fileLength < 8)
            throw Fail(path, SafeTensorsErrorKind.FileTooSmall, null,
                $"the file is {fileLength} bytes long; at least 8 are needed for the header length.");
        if (head.Length < Math.Min(fileLength, 8 + MaxHeaderLength))
            throw new ArgumentException("The head span is shorter than the bytes the header may need.", nameof(head));

        var n = BinaryPrimitives.ReadUInt64LittleEndian(head);
        if (n > MaxHeaderLength)
            throw Fail(path, SafeTensorsErrorKind.HeaderTooLarge, null,
                $"the header length is {n} bytes; at most {MaxHeaderLength} are allowed.");
        var headerLength = (long)n;
        if (8 + headerLength > fileLength)
            throw Fail(path, SafeTensorsErrorKind.HeaderOutOfBounds, null,
                $"the header needs bytes 8 to {8 + headerLength} but the file is only {fileLength} bytes long.");

        var header = head.Slice(8, (int)headerLength);
        if (!Utf8.IsValid(header))
            throw Fail(path, SafeTensorsErrorKind.HeaderNotUtf8, null,
                $"the {headerLength}-byte header is not valid UTF-8.");
        if (header.IsEmpty || header[0] != (byte)'{')
            throw Fail(path, SafeTensorsErrorKind.HeaderNotJson, null,
                header.IsEmpty
                    ? "the header is empty; expected a JSON object starting with '{'."
                    : $"the header starts with byte 0x{header[0]:X2}; expected '{{' (0x7B).");

        CheckJsonSyntax(header, path);
        var (entries, metadata) = ReadEntries(header, path);
        var dataEnd = CheckLayout(entries, path);

        var dataLength = fileLength - 8 - headerLength;
        if (dataEnd > dataLength)
            throw Fail(path, SafeTensorsErrorKind.DataPastEndOfFile, null,
                $"the tensors need {dataEnd} data bytes (file length {8 + headerLength + dataEnd}) but only {dataLength} " +
                $"follow the header (file length {fileLength}).");
        if (dataEnd < dataLength)
            throw Fail(path, SafeTensorsErrorKind.TrailingData, null,
                $"the tensors cover {dataEnd} data bytes (file length {8 + headerLength + dataEnd}) but {dataLength} " +
                $"follow the header (file length {fileLength}); {dataLength - dataEnd} bytes are unaccounted for.");

        var tensors = new SafeTensorInfo[entries.Count];
        var byName = new Dictionary<string, SafeTensorInfo>(entries.Count, StringComparer.Ordinal);
        for (var i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            var info = new SafeTensorInfo(e.Name, e.DType, Array.AsReadOnly(e.Shape), e.Begin, e.End - e.Begin);
            tensors[i] = info;
            byName.Add(e.Name, info);
        }

        return new SafeTensorsHeader(tensors, byName, metadata, headerLength);
    }

    private static JsonReaderOptions ReaderOptions => new()
    {
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,
        MaxDepth = MaxJsonDepth,
    };

    /// <summary>Pass 1: the whole header must be one well-formed JSON value (followed by whitespace only) whose
    /// strings all decode (no lone surrogate escapes).</summary>
    private static void CheckJsonSyntax(ReadOnlySpan<byte> header, string path)
    {
        var reader = new Utf8JsonReader(header, ReaderOptions);
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.PropertyName or JsonTokenType.String)
                    _ = reader.GetString();
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            throw Fail(path, SafeTensorsErrorKind.HeaderNotJson, null,
                $"the header is not valid JSON near byte {reader.BytesConsumed} of {header.Length}: {ex.Message}", ex);
        }
    }

    private sealed record Entry(string Name, SafeTensorsDType DType, long[] Shape, long Begin, long End, long ExpectedBytes, int Index);

    /// <summary>Pass 2: the structure, types and values of every entry, in text order.</summary>
    private static (List<Entry> Entries, IReadOnlyDictionary<string, string> Metadata) ReadEntries(
        ReadOnlySpan<byte> header, string path)
    {
        var reader = new Utf8JsonReader(header, ReaderOptions);
        reader.Read(); // StartObject, guaranteed by the '{' check and pass 1.
        var entries = new List<Entry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        Dictionary<string, string>? metadata = null;
        var sawMetadata = false;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            if (name == MetadataKey)
            {
                if (sawMetadata)
                    throw Fail(path, SafeTensorsErrorKind.InvalidMetadata, null,
                        $"'{MetadataKey}' appears more than once in the header.");
                sawMetadata = true;
                metadata = ReadMetadata(ref reader, path);
                continue;
            }

            if (!names.Add(name))
                throw Fail(path, SafeTensorsErrorKind.DuplicateName, name,
                    "the name appears more than once in the header; each tensor name must be unique.");
            entries.Add(ReadEntry(ref reader, name, entries.Count, path));
        }

        IReadOnlyDictionary<string, string> meta = metadata is null
            ? ReadOnlyDictionary<string, string>.Empty
            : new ReadOnlyDictionary<string, string>(metadata);
        return (entries, meta);
    }

    private static Dictionary<string, string>? ReadMetadata(ref Utf8JsonReader reader, string path)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Fail(path, SafeTensorsErrorKind.InvalidMetadata, null,
                $"'{MetadataKey}' must be an object of string values; found a JSON {Describe(reader.TokenType)}.");
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
                throw Fail(path, SafeTensorsErrorKind.InvalidMetadata, null,
                    $"'{MetadataKey}' entry '{SafeTensorsException.Shorten(key)}' must be a string; found a JSON {Describe(reader.TokenType)}.");
            if (!map.TryAdd(key, reader.GetString()!))
                throw Fail(path, SafeTensorsErrorKind.InvalidMetadata, null,
                    $"'{MetadataKey}' has the key '{SafeTensorsException.Shorten(key)}' more than once.");
        }

        return map;
    }

    private static Entry ReadEntry(ref Utf8JsonReader reader, string name, int index, string path)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Fail(path, SafeTensorsErrorKind.InvalidHeaderEntry, name,
                $"the entry must be an object with dtype, shape and data_offsets; found a JSON {Describe(reader.TokenType)}.");

        SafeTensorsDType? dtype = null;
        List<long>? shape = null;
        long begin = -1, end = -1;
        var sawOffsets = false;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = reader.GetString()!;
            reader.Read();
            switch (field)
            {
                case "dtype":
                    if (dtype is not null) throw DuplicateField(path, name, field);
                    if (reader.TokenType != JsonTokenType.String)
                        throw Fail(path, SafeTensorsErrorKind.InvalidHeaderEntry, name,
                            $"'dtype' must be a string; found a JSON {Describe(reader.TokenType)}.");
                    var text = reader.GetString();
                    if (!SafeTensorsDTypeExtensions.TryParse(text, out var parsed))
                        throw Fail(path, SafeTensorsErrorKind.UnknownDType, name,
                            $"dtype '{SafeTensorsException.Shorten(text ?? "")}' is not supported; expected one of " +
                            string.Join(", ", Enum.GetValues<SafeTensorsDType>().Select(d => d.ToHeaderString())) + ".");
                    dtype = parsed;
                    break;

                case "shape":
                    if (shape is not null) throw DuplicateField(path, name, field);
                    if (reader.TokenType != JsonTokenType.StartArray)
                        throw Fail(path, SafeTensorsErrorKind.InvalidHeaderEntry, name,
                            $"'shape' must be an array of integers; found a JSON {Describe(reader.TokenType)}.");
                    shape = new List<long>();
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (reader.TokenType != JsonTokenType.Number)
                            throw Fail(path, SafeTensorsErrorKind.InvalidHeaderEntry, name,
                                $"'shape' element {shape.Count} must be an integer; found a JSON {Describe(reader.TokenType)}.");
                        if (!reader.TryGetInt64(out var dim) || dim < 0)
                            throw Fail(path, SafeTensorsErrorKind.InvalidShape, name,
                                $"'shape' element {shape.Count} is {NumberText(ref reader)}; expected an integer from 0 to {long.MaxValue}.");
                        if (shape.Count == MaxRank)
                            throw Fail(path, SafeTensorsErrorKind.InvalidShape, name,
                                $"the shape has more than {MaxRank} dimensions.");
                        shape.Add(dim);
                    }

                    break;

                case "data_offsets":
                    if (sawOffsets) throw DuplicateField(path, name, field);
                    sawOffsets = true;
                    if (reader.TokenType != JsonTokenType.StartArray)
                        throw Fail(path, SafeTensorsErrorKind.InvalidHeaderEntry, name,
                            $"'data_offsets' must be an array [begin, end]; found a JSON {Describe(reader.TokenType)}.");
                    var count = 0;
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (reader.TokenType != JsonTokenType.Number)
                            throw Fail(path, SafeTensorsErrorKind.InvalidHeaderEntry, name,
                                $"'data_offsets' element {count} must be an integer; found a JSON {Describe(reader.TokenType)}.");
                        if (!reader.TryGetInt64(out var offset) || offset < 0)
                            throw Fail(path, SafeTensorsErrorKind.InvalidHeaderEntry, name,
                                $"'data_offsets' element {count} is {NumberText(ref reader)}; expected an integer from 0 to {long.MaxValue}.");
                        if (count == 0) begin = offset;
                        else if (count == 1) end = offset;
                        count++;
                        if (count > 2)
                            throw Fail(path, SafeTensorsErrorKind.InvalidHeaderEntry, name,
                                "'data_offsets' must have exactly 2 elements [begin, end]; found more.");
                    }

                    if (count != 2)
                        throw Fail(path, SafeTensorsErrorKind.InvalidHeaderEntry, name,
                            $"'data_offsets' must have exactly 2 elements [begin, end]; found {count}.");
                    if (end < begin)
                        throw Fail(path, SafeTensorsErrorKind.InvalidHeaderEntry, name,
                            $"'data_offsets' is [{begin}, {end}]; the end must not be before the begin.");
                    break;

                default:
                    throw Fail(path, SafeTensorsErrorKind.InvalidHeaderEntry, name,
                        $"unexpected field '{SafeTensorsException.Shorten(field)}'; an entry has exactly dtype, shape and data_offsets.");
            }
        }

        if (dtype is null || shape is null || !sawOffsets)
        {
            var missing = new List<string>(3);
            if (dtype is null) missing.Add("dtype");
            if (shape is null) missing.Add("shape");
            if (!sawOffsets) missing.Add("data_offsets");
            throw Fail(path, SafeTensorsErrorKind.InvalidHeaderEntry, name,
                $"the entry lacks {string.Join(", ", missing)}.");
        }

        var elements = 1L;
        foreach (var d in shape)
        {
            if (!TryMultiply(elements, d, out elements))
                throw Fail(path, SafeTensorsErrorKind.InvalidShape, name,
                    $"the element count of shape [{string.Join(", ", shape)}] overflows a 64-bit integer.");
        }

        var size = dtype.Value.ElementSize();
        if (!TryMultiply(elements, size, out var expectedBytes))
            throw Fail(path, SafeTensorsErrorKind.InvalidShape, name,
                $"{elements} elements of {dtype.Value.ToHeaderString()} ({size} bytes each) overflow a 64-bit byte count.");

        return new Entry(name, dtype.Value, shape.ToArray(), begin, end, expectedBytes, index);
    }

    /// <summary>Pass 3: sorted by (begin, end), the tensors must tile [0, dataEnd) exactly and each must be the size its
    /// dtype and shape say. Returns dataEnd.</summary>
    private static long CheckLayout(List<Entry> entries, string path)
    {
        var sorted = entries.ToArray();
        Array.Sort(sorted, static (a, b) =>
        {
            var c = a.Begin.CompareTo(b.Begin);
            if (c == 0) c = a.End.CompareTo(b.End);
            return c != 0 ? c : a.Index.CompareTo(b.Index);
        });

        long start = 0;
        Entry? previous = null;
        foreach (var e in sorted)
        {
            if (e.Begin != start)
            {
                var what = previous is null
                    ? $"the first tensor's data must begin at offset 0, but it begins at {e.Begin}"
                    : $"it must begin where '{SafeTensorsException.Shorten(previous.Name)}' ends, at {start}, but it begins at {e.Begin}" +
                      (e.Begin > start ? $" (a hole of {e.Begin - start} bytes)" : $" (an overlap of {start - e.Begin} bytes)");
                throw Fail(path, SafeTensorsErrorKind.OffsetsNotContiguous, e.Name, what + ".");
            }

            var actual = e.End - e.Begin;
            if (actual != e.ExpectedBytes)
                throw Fail(path, SafeTensorsErrorKind.SizeMismatch, e.Name,
                    $"{e.DType.ToHeaderString()} shape [{string.Join(", ", e.Shape)}] needs {e.ExpectedBytes} bytes but " +
                    $"data_offsets [{e.Begin}, {e.End}] span {actual}.");
            start = e.End;
            previous = e;
        }

        return start;
    }

    /// <summary>Multiplies two non-negative values, reporting overflow instead of wrapping.</summary>
    internal static bool TryMultiply(long a, long b, out long product)
    {
        if (a != 0 && b > long.MaxValue / a)
        {
            product = 0;
            return false;
        }

        product = a * b;
        return true;
    }

    private static string NumberText(ref Utf8JsonReader reader)
    {
        var raw = reader.ValueSpan.ToArray(); // the reader runs over one contiguous span: never a sequence
        var text = System.Text.Encoding.UTF8.GetString(raw);
        return SafeTensorsException.Shorten(text);
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "object",
        JsonTokenType.StartArray => "array",
        JsonTokenType.String => "string",
        JsonTokenType.Number => "number",
        JsonTokenType.True or JsonTokenType.False => "boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };

    private static SafeTensorsException DuplicateField(string path, string name, string field) =>
        Fail(path, SafeTensorsErrorKind.InvalidHeaderEntry, name, $"the field '{field}' appears more than once in the entry.");

    private static SafeTensorsException Fail(
        string path, SafeTensorsErrorKind kind, string? tensor, string detail, Exception? inner = null) =>
        new(path, kind, tensor, detail, inner);
}

using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace TransformerEmbeddings.Weights;

/// <summary>
/// Writes safetensors files byte-compatible with the reference implementation (<c>safetensors::serialize</c>):
/// tensors sorted by descending dtype alignment (upstream <c>Dtype</c> enum order: U64, I64, F64, F32, U32, I32, BF16,
/// F16, U16, I16, F8_E4M3, F8_E5M2, I8, U8, BOOL) then by name (UTF-8 byte order); data packed with no gaps in that
/// order; compact JSON header with <c>__metadata__</c> first (when given; keys in UTF-8 byte order), each entry as
/// <c>{"dtype":…,"shape":[…],"data_offsets":[begin,end]}</c>; the header padded with spaces to a multiple of 8 bytes.
/// </summary>
public static class SafeTensorsWriter
{
    private const string MetadataKey = "__metadata__";
    private const string MemoryPath = "<memory>";
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Writes a safetensors file atomically: the bytes go to a temporary file in the same folder, are flushed to disk,
    /// and the temporary file is then renamed over <paramref name="path"/>. On any failure the temporary file is removed
    /// and whatever was at <paramref name="path"/> before is left untouched.
    /// </summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="tensors">The tensors; names must be unique. The input order does not matter.</param>
    /// <param name="metadata">The optional <c>__metadata__</c> string map (for example <c>format: pt</c>). When null
    /// the header has no <c>__metadata__</c> entry.</param>
    /// <exception cref="SafeTensorsException">An entry is invalid (<see cref="SafeTensorsErrorKind.DuplicateName"/>,
    /// <see cref="SafeTensorsErrorKind.SizeMismatch"/>, <see cref="SafeTensorsErrorKind.InvalidShape"/>,
    /// <see cref="SafeTensorsErrorKind.InvalidHeaderEntry"/>, <see cref="SafeTensorsErrorKind.InvalidMetadata"/>,
    /// <see cref="SafeTensorsErrorKind.HeaderTooLarge"/>), or the file cannot be written
    /// (<see cref="SafeTensorsErrorKind.IoError"/>).</exception>
    public static void Write(string path, IEnumerable<SafeTensorEntry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        string fullPath;
        try
        {
            fullPath = Path.GetFullPath(path);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new SafeTensorsException(path, SafeTensorsErrorKind.IoError, null, $"the path is not usable: {ex.Message}", ex);
        }

        var (header, ordered) = Prepare(tensors, metadata, fullPath);

        var directory = Path.GetDirectoryName(fullPath) ?? ".";
        var tempPath = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None,
                       bufferSize: 1 << 16, FileOptions.None))
            {
                WriteTo(stream, header, ordered);
                stream.Flush(flushToDisk: true);
            }

            File.Move(tempPath, fullPath, overwrite: true);
        }
        catch (Exception ex)
        {
            TryDelete(tempPath);
            if (ex is IOException or UnauthorizedAccessException or NotSupportedException or System.Security.SecurityException)
                throw new SafeTensorsException(fullPath, SafeTensorsErrorKind.IoError, null,
                    $"the file could not be written: {ex.Message}", ex);
            throw;
        }
    }

    /// <summary>Serializes to an in-memory byte array, exactly the bytes <see cref="Write"/> would put in a file.</summary>
    /// <param name="tensors">The tensors; names must be unique.</param>
    /// <param name="metadata">The optional <c>__metadata__</c> string map.</param>
    /// <returns>The complete file contents.</returns>
    /// <exception cref="SafeTensorsException">An entry is invalid, or the result would exceed 2 GiB
    /// (<see cref="SafeTensorsErrorKind.TensorTooLarge"/>).</exception>
    public static byte[] Serialize(IEnumerable<SafeTensorEntry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var (header, ordered) = Prepare(tensors, metadata, MemoryPath);
        var total = 8L + header.Length + ordered.Sum(e => (long)e.Data.Length);
        if (total > Array.MaxLength)
            throw new SafeTensorsException(MemoryPath, SafeTensorsErrorKind.TensorTooLarge, null,
                $"the serialized size {total} exceeds the largest byte array ({Array.MaxLength}); use Write.");
        using var stream = new MemoryStream((int)total);
        WriteTo(stream, header, ordered);
        return stream.ToArray();
    }

    private static void WriteTo(Stream stream, byte[] header, List<SafeTensorEntry> ordered)
    {
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);
        foreach (var entry in ordered) stream.Write(entry.Data.Span);
    }

    private sealed record Prepared(SafeTensorEntry Entry, byte[] NameUtf8);

    /// <summary>Validates the request and builds the padded header; returns the entries in file order.</summary>
    internal static (byte[] Header, List<SafeTensorEntry> Ordered) Prepare(
        IEnumerable<SafeTensorEntry> tensors, IReadOnlyDictionary<string, string>? metadata, string path)
    {
        var items = new List<Prepared>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in tensors)
        {
            if (entry is null)
                throw new ArgumentException("The tensor list contains a null entry.", nameof(tensors));
            if (entry.Name is null)
                throw new SafeTensorsException(path, SafeTensorsErrorKind.InvalidHeaderEntry, null, "a tensor has a null name.");
            var name = entry.Name;
            if (name == MetadataKey)
                throw new SafeTensorsException(path, SafeTensorsErrorKind.InvalidHeaderEntry, name,
                    $"'{MetadataKey}' is reserved for the metadata map and cannot name a tensor.");
            var nameUtf8 = EncodeStrict(name, path, SafeTensorsErrorKind.InvalidHeaderEntry, name, "the tensor name");
            if (!Enum.IsDefined(entry.DType))
                throw new SafeTensorsException(path, SafeTensorsErrorKind.UnknownDType, name,
                    $"dtype value {(int)entry.DType} is not a member of {nameof(SafeTensorsDType)}.");
            if (entry.Shape is null)
                throw new SafeTensorsException(path, SafeTensorsErrorKind.InvalidShape, name, "the shape is null.");
            if (entry.Shape.Count > SafeTensorsHeader.MaxRank)
                throw new SafeTensorsException(path, SafeTensorsErrorKind.InvalidShape, name,
                    $"the shape has {entry.Shape.Count} dimensions; at most {SafeTensorsHeader.MaxRank} are allowed.");
            var elements = 1L;
            foreach (var d in entry.Shape)
            {
                if (d < 0)
                    throw new SafeTensorsException(path, SafeTensorsErrorKind.InvalidShape, name,
                        $"shape [{string.Join(", ", entry.Shape)}] has a negative dimension.");
                if (!SafeTensorsHeader.TryMultiply(elements, d, out elements))
                    throw new SafeTensorsException(path, SafeTensorsErrorKind.InvalidShape, name,
                        $"the element count of shape [{string.Join(", ", entry.Shape)}] overflows a 64-bit integer.");
            }

            if (!SafeTensorsHeader.TryMultiply(elements, entry.DType.ElementSize(), out var bytes))
                throw new SafeTensorsException(path, SafeTensorsErrorKind.InvalidShape, name,
                    $"{elements} elements of {entry.DType.ToHeaderString()} overflow a 64-bit byte count.");
            if (bytes != entry.Data.Length)
                throw new SafeTensorsException(path, SafeTensorsErrorKind.SizeMismatch, name,
                    $"{entry.DType.ToHeaderString()} shape [{string.Join(", ", entry.Shape)}] needs {bytes} bytes but " +
                    $"{entry.Data.Length} were given.");
            if (!names.Add(name))
                throw new SafeTensorsException(path, SafeTensorsErrorKind.DuplicateName, name,
                    "two tensors have this name; names must be unique.");
            items.Add(new Prepared(entry, nameUtf8));
        }

        // Upstream: sort by dtype descending (enum order = alignment), then name ascending (byte-wise on UTF-8).
        items.Sort(static (a, b) =>
        {
            var c = b.Entry.DType.UpstreamRank().CompareTo(a.Entry.DType.UpstreamRank());
            return c != 0 ? c : a.NameUtf8.AsSpan().SequenceCompareTo(b.NameUtf8);
        });

        var json = new MemoryStream();
        json.WriteByte((byte)'{');
        var first = true;
        if (metadata is not null)
        {
            var pairs = new List<(byte[] Key, byte[] Value)>(metadata.Count);
            foreach (var (key, value) in metadata)
            {
                if (key is null || value is null)
                    throw new SafeTensorsException(path, SafeTensorsErrorKind.InvalidMetadata, null,
                        $"metadata key '{key}' has a null key or value.");
                pairs.Add((EncodeStrict(key, path, SafeTensorsErrorKind.InvalidMetadata, null, $"metadata key '{key}'"),
                    EncodeStrict(value, path, SafeTensorsErrorKind.InvalidMetadata, null, $"the value of metadata key '{key}'")));
            }

            pairs.Sort(static (a, b) => a.Key.AsSpan().SequenceCompareTo(b.Key));
            WriteJsonString(json, Encoding.UTF8.GetBytes(MetadataKey));
            json.WriteByte((byte)':');
            json.WriteByte((byte)'{');
            for (var i = 0; i < pairs.Count; i++)
            {
                if (i > 0) json.WriteByte((byte)',');
                WriteJsonString(json, pairs[i].Key);
                json.WriteByte((byte)':');
                WriteJsonString(json, pairs[i].Value);
            }

            json.WriteByte((byte)'}');
            first = false;
        }

        long offset = 0;
        foreach (var item in items)
        {
            if (!first) json.WriteByte((byte)',');
            first = false;
            var e = item.Entry;
            WriteJsonString(json, item.NameUtf8);
            WriteAscii(json, ":{\"dtype\":\"");
            WriteAscii(json, e.DType.ToHeaderString());
            WriteAscii(json, "\",\"shape\":[");
            for (var i = 0; i < e.Shape.Count; i++)
            {
                if (i > 0) json.WriteByte((byte)',');
                WriteAscii(json, e.Shape[i].ToString(CultureInfo.InvariantCulture));
            }

            var end = offset + e.Data.Length;
            WriteAscii(json, $"],\"data_offsets\":[{offset.ToString(CultureInfo.InvariantCulture)},{end.ToString(CultureInfo.InvariantCulture)}]}}");
            offset = end;
        }

        json.WriteByte((byte)'}');
        while (json.Length % 8 != 0) json.WriteByte((byte)' ');
        if (json.Length > SafeTensorsHeader.MaxHeaderLength)
            throw new SafeTensorsException(path, SafeTensorsErrorKind.HeaderTooLarge, null,
                $"the header would be {json.Length} bytes; readers accept at most {SafeTensorsHeader.MaxHeaderLength}.");

        return (json.ToArray(), items.ConvertAll(i => i.Entry));
    }

    private static byte[] EncodeStrict(string text, string path, SafeTensorsErrorKind kind, string? tensor, string what)
    {
        try
        {
            return StrictUtf8.GetBytes(text);
        }
        catch (EncoderFallbackException ex)
        {
            throw new SafeTensorsException(path, kind, tensor, $"{what} contains an unpaired UTF-16 surrogate and cannot be UTF-8.", ex);
        }
    }

    /// <summary>Writes a JSON string the way serde_json does: only '"', '\\' and control characters are escaped
    /// (\b \f \n \r \t, otherwise \u00xx in lowercase hex); everything else is raw UTF-8.</summary>
    private static void WriteJsonString(Stream json, ReadOnlySpan<byte> utf8)
    {
        json.WriteByte((byte)'"');
        var run = 0; // start of the pending run of bytes that need no escaping
        for (var i = 0; i < utf8.Length; i++)
        {
            var b = utf8[i];
            if (b >= 0x20 && b != (byte)'"' && b != (byte)'\\') continue;
            json.Write(utf8[run..i]);
            run = i + 1;
            switch (b)
            {
                case (byte)'"': WriteAscii(json, "\\\""); break;
                case (byte)'\\': WriteAscii(json, "\\\\"); break;
                case 0x08: WriteAscii(json, "\\b"); break;
                case 0x0C: WriteAscii(json, "\\f"); break;
                case (byte)'\n': WriteAscii(json, "\\n"); break;
                case (byte)'\r': WriteAscii(json, "\\r"); break;
                case (byte)'\t': WriteAscii(json, "\\t"); break;
                default: WriteAscii(json, "\\u00" + b.ToString("x2", CultureInfo.InvariantCulture)); break;
            }
        }

        json.Write(utf8[run..]);
        json.WriteByte((byte)'"');
    }

    private static void WriteAscii(Stream stream, string ascii)
    {
        foreach (var c in ascii) stream.WriteByte((byte)c);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: the failure that brought us here is the one to report.
        }
    }
}

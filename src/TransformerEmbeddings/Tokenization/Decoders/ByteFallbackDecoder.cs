namespace TransformerEmbeddings.Tokenization;

/// <summary>
/// HF <c>ByteFallback</c> decoder: runs of &lt;0xXX&gt; tokens become the text their bytes spell, or one U+FFFD per
/// byte when the run is not valid UTF-8.
/// </summary>
internal sealed class ByteFallbackDecoder : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var bytes = new List<byte>();
        foreach (var token in tokens)
        {
            if (TryParseByte(token, out var b))
            {
                bytes.Add(b);
                continue;
            }

            Flush(bytes, result);
            result.Add(token);
        }

        Flush(bytes, result);
        return result;
    }

    private static void Flush(List<byte> bytes, List<string> result)
    {
        if (bytes.Count == 0) return;
        var array = bytes.ToArray();
        if (System.Text.Unicode.Utf8.IsValid(array)) result.Add(System.Text.Encoding.UTF8.GetString(array));
        else result.AddRange(Enumerable.Repeat("\uFFFD", array.Length));
        bytes.Clear();
    }

    /// <summary>"&lt;0xXX&gt;" of 6 UTF-8 bytes whose two middle chars parse as a hex u8 (Rust's from_str_radix also takes "+X").</summary>
    private static bool TryParseByte(string token, out byte value)
    {
        value = 0;
        if (token.Length != 6 || !token.StartsWith("<0x", StringComparison.Ordinal) || token[5] != '>') return false;
        var hex = token.AsSpan(3, 2);
        if (hex[0] == '+') hex = hex[1..];
        foreach (var c in hex)
            if (!char.IsAsciiHexDigit(c))
                return false;
        value = byte.Parse(hex, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
        return true;
    }
}

namespace TransformerEmbeddings.Tokenization;

/// <summary>
/// HF <c>ByteLevel</c> decoder: each token's byte-level chars back to bytes (a token with a char outside the
/// mapping contributes its own UTF-8 bytes), all tokens' bytes then read as UTF-8 with U+FFFD for invalid sequences.
/// </summary>
internal sealed class ByteLevelDecoder : IDecoder
{
    private static readonly Dictionary<char, byte> CharToByte = BuildCharToByte();

    private static Dictionary<char, byte> BuildCharToByte()
    {
        var map = new Dictionary<char, byte>(256);
        for (var b = 0; b < 256; b++) map[ByteLevelBpeModel.CharOfByte((byte)b)] = (byte)b;
        return map;
    }

    public List<string> DecodeChain(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (var token in tokens)
        {
            var start = bytes.Count;
            var mapped = true;
            foreach (var c in token)
            {
                if (!CharToByte.TryGetValue(c, out var b))
                {
                    mapped = false;
                    break;
                }

                bytes.Add(b);
            }

            if (mapped) continue;
            bytes.RemoveRange(start, bytes.Count - start);
            bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(token));
        }

        return [System.Text.Encoding.UTF8.GetString(bytes.ToArray())];
    }
}

namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>Strip</c> decoder: removes up to <paramref name="start"/> leading and <paramref name="stop"/> trailing <paramref name="content"/> chars of every token.</summary>
internal sealed class StripDecoder(int content, int start, int stop) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        foreach (var token in tokens)
        {
            var chars = token.EnumerateRunes().Select(r => r.Value).ToArray();
            var startCut = 0;
            for (var i = 0; i < Math.Min(start, chars.Length) && chars[i] == content; i++) startCut = i + 1;
            var stopCut = chars.Length;
            for (var i = 0; i < stop; i++)
            {
                var index = chars.Length - i - 1;
                if (index < 0 || chars[index] != content) break;
                stopCut = index;
            }

            result.Add(stopCut <= startCut ? "" : string.Concat(chars[startCut..stopCut].Select(char.ConvertFromUtf32)));
        }

        return result;
    }
}

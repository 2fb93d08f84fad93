namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>Metaspace</c> decoder: ▁ becomes a space, except in the first token when a prefix was prepended (there it is dropped).</summary>
internal sealed class MetaspaceDecoder(int replacement, PrependScheme scheme) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var sb = new System.Text.StringBuilder();
        for (var i = 0; i < tokens.Count; i++)
        {
            sb.Clear();
            foreach (var rune in tokens[i].EnumerateRunes())
            {
                if (rune.Value != replacement) sb.Append(rune.ToString());
                else if (i != 0 || scheme == PrependScheme.Never) sb.Append(' ');
            }

            result.Add(sb.ToString());
        }

        return result;
    }
}

namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>WordPiece</c> decoder: tokens after the first lose <paramref name="prefix"/> or get a leading space; optional cleanup of spaces before punctuation.</summary>
internal sealed class WordPieceDecoder(string prefix, bool cleanup) : IDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (i != 0) token = token.StartsWith(prefix, StringComparison.Ordinal) ? token[prefix.Length..] : " " + token;
            result.Add(cleanup ? Cleanup(token) : token);
        }

        return result;
    }

    /// <summary>HF wordpiece.rs <c>cleanup</c>, replacement by replacement in its order; transformers'
    /// <c>clean_up_tokenization</c> is the same list without " do not" (<paramref name="doNot"/> false).</summary>
    internal static string Cleanup(string s, bool doNot = true)
    {
        s = s
            .Replace(" .", ".", StringComparison.Ordinal)
            .Replace(" ?", "?", StringComparison.Ordinal)
            .Replace(" !", "!", StringComparison.Ordinal)
            .Replace(" ,", ",", StringComparison.Ordinal)
            .Replace(" ' ", "'", StringComparison.Ordinal)
            .Replace(" n't", "n't", StringComparison.Ordinal)
            .Replace(" 'm", "'m", StringComparison.Ordinal);
        if (doNot) s = s.Replace(" do not", " don't", StringComparison.Ordinal);
        return s
            .Replace(" 's", "'s", StringComparison.Ordinal)
            .Replace(" 've", "'ve", StringComparison.Ordinal)
            .Replace(" 're", "'re", StringComparison.Ordinal);
    }
}

namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>WhitespaceSplit</c>: words are the runs of non-whitespace (Rust's char::is_whitespace).</summary>
internal sealed class WhitespaceSplitPreTokenizer : IPreTokenizer
{
    public List<NChar> Split(List<NChar> piece, List<WordRange> words)
    {
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(piece);
        var start = 0;
        for (var i = 0; i < span.Length; i++)
        {
            if (!UnicodeTables.IsWhiteSpace(span[i].Cp)) continue;
            if (start < i) words.Add(new WordRange(start, i));
            start = i + 1;
        }

        if (start < span.Length) words.Add(new WordRange(start, span.Length));
        return piece;
    }
}

namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>BertPreTokenizer</c>: split on whitespace (removed), then isolate every punctuation char.</summary>
internal sealed class BertPreTokenizer : IPreTokenizer
{
    public List<NChar> Split(List<NChar> piece, List<WordRange> words)
    {
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(piece);
        var start = 0;
        for (var i = 0; i < span.Length; i++)
        {
            var cp = span[i].Cp;
            if (UnicodeTables.IsWhiteSpace(cp))
            {
                if (start < i) words.Add(new WordRange(start, i));
                start = i + 1;
            }
            else if (UnicodeTables.IsBertPunctuation(cp))
            {
                if (start < i) words.Add(new WordRange(start, i));
                words.Add(new WordRange(i, i + 1));
                start = i + 1;
            }
        }

        if (start < span.Length) words.Add(new WordRange(start, span.Length));
        return piece;
    }
}

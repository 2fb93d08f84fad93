namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>Sequence</c> of pre-tokenizers: each stage splits every word the previous stage produced.</summary>
internal sealed class SequencePreTokenizer(IReadOnlyList<IPreTokenizer> stages) : IPreTokenizer
{
    public IReadOnlyList<IPreTokenizer> Stages { get; } = stages;

    public List<NChar> Split(List<NChar> piece, List<WordRange> words)
    {
        var current = piece;
        var ranges = new List<WordRange> { new(0, piece.Count) };
        foreach (var stage in Stages)
        {
            var output = new List<NChar>(current.Count + 8);
            var next = new List<WordRange>(ranges.Count * 2);
            var subWords = new List<WordRange>();
            foreach (var range in ranges)
            {
                subWords.Clear();
                var result = stage.Split(current.GetRange(range.Start, range.End - range.Start), subWords);
                var offset = output.Count;
                output.AddRange(result);
                foreach (var w in subWords) next.Add(new WordRange(w.Start + offset, w.End + offset));
            }

            current = output;
            ranges = next;
        }

        words.AddRange(ranges);
        return current;
    }
}

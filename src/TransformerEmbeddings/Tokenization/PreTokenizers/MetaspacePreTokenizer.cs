namespace TransformerEmbeddings.Tokenization;

/// <summary>When <see cref="MetaspacePreTokenizer"/> prepends its replacement char (HF <c>PrependScheme</c>).</summary>
internal enum PrependScheme
{
    /// <summary>Before every piece that does not start with it.</summary>
    Always,

    /// <summary>Only before a piece that starts at offset 0 of the original text.</summary>
    First,

    /// <summary>Never.</summary>
    Never,
}

/// <summary>
/// HF <c>Metaspace</c>: spaces become <paramref name="replacement"/> (▁), which is prepended per
/// <paramref name="scheme"/>; with <paramref name="split"/> every ▁ starts a new word (MergedWithNext).
/// </summary>
internal sealed class MetaspacePreTokenizer(int replacement, PrependScheme scheme, bool split) : IPreTokenizer
{
    public int Replacement { get; } = replacement;

    public PrependScheme Scheme { get; } = scheme;

    public List<NChar> Split(List<NChar> piece, List<WordRange> words)
    {
        if (piece.Count == 0) return piece;
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(piece);
        for (var i = 0; i < span.Length; i++)
            if (span[i].Cp == ' ')
                span[i] = span[i] with { Cp = Replacement };

        // HF prepend: the new char takes the first char's slot and the first char is re-inserted; both align to it.
        // "First" asks whether this piece starts at offset 0 of the original (HF offsets_original().0 == 0).
        if (span[0].Cp != Replacement && (Scheme == PrependScheme.Always || (Scheme == PrependScheme.First && span[0].Start == 0)))
            piece.Insert(0, span[0] with { Cp = Replacement });

        if (!split)
        {
            words.Add(new WordRange(0, piece.Count));
            return piece;
        }

        span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(piece);
        var start = 0;
        for (var i = 1; i < span.Length; i++)
        {
            if (span[i].Cp != Replacement) continue;
            words.Add(new WordRange(start, i));
            start = i;
        }

        words.Add(new WordRange(start, span.Length));
        return piece;
    }
}

namespace TransformerEmbeddings.Tokenization;

/// <summary>
/// HF <c>ByteLevel</c> pre-tokenizer: the GPT-2 regex
/// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c> run by hand over code points
/// (Oniguruma semantics), with add_prefix_space. The byte mapping itself is done by the BPE model stage.
/// </summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : IPreTokenizer
{
    public bool AddPrefixSpace { get; } = addPrefixSpace;

    public List<NChar> Split(List<NChar> piece, List<WordRange> words)
    {
        if (piece.Count == 0) return piece;
        if (AddPrefixSpace && piece[0].Cp != ' ')
        {
            // HF prepend: the space replaces the first char's slot and the first char is re-inserted: both align to it.
            var p = new List<NChar>(piece.Count + 1) { piece[0] with { Cp = ' ' } };
            p.AddRange(piece);
            piece = p;
        }

        if (!useRegex)
        {
            words.Add(new WordRange(0, piece.Count));
            return piece;
        }

        var s = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(piece);
        var i = 0;
        while (i < s.Length)
        {
            var len = MatchAt(s, i);
            words.Add(new WordRange(i, i + len));
            i += len;
        }

        return piece;
    }

    private static bool IsS(int cp) => UnicodeTables.IsWhiteSpace(cp);

    private static int MatchAt(ReadOnlySpan<NChar> s, int i)
    {
        var n = s.Length;
        var c = s[i].Cp;

        // 's|'t|'re|'ve|'m|'ll|'d
        if (c == '\'' && i + 1 < n)
        {
            var c1 = s[i + 1].Cp;
            if (c1 is 's' or 't' or 'm' or 'd') return 2;
            if (i + 2 < n)
            {
                var c2 = s[i + 2].Cp;
                if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
            }
        }

        var j = c == ' ' ? i + 1 : i;
        if (j < n)
        {
            var cj = s[j].Cp;
            // ' ?\p{L}+'
            if (UnicodeTables.IsLetter(cj))
            {
                var k = j + 1;
                while (k < n && UnicodeTables.IsLetter(s[k].Cp)) k++;
                return k - i;
            }

            // ' ?\p{N}+'
            if (UnicodeTables.IsNumber(cj))
            {
                var k = j + 1;
                while (k < n && UnicodeTables.IsNumber(s[k].Cp)) k++;
                return k - i;
            }

            // ' ?[^\s\p{L}\p{N}]+'
            if (IsOtherClass(cj))
            {
                var k = j + 1;
                while (k < n && IsOtherClass(s[k].Cp)) k++;
                return k - i;
            }
        }

        // \s+(?!\S) | \s+
        if (IsS(c))
        {
            var k = i + 1;
            while (k < n && IsS(s[k].Cp)) k++;
            if (k == n) return k - i;
            if (k - 1 > i) return k - 1 - i;
            return k - i;
        }

        // Unreachable for well-formed input (every char is \s, L, N or other); keep progress.
        return 1;
    }

    private static bool IsOtherClass(int cp) => !IsS(cp) && !UnicodeTables.IsLetter(cp) && !UnicodeTables.IsNumber(cp);
}

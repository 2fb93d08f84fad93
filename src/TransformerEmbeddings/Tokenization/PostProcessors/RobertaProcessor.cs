namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>RobertaProcessing</c>: &lt;s&gt; A &lt;/s&gt; (&lt;/s&gt; B &lt;/s&gt;), type ids all 0, optional offset trimming.</summary>
internal sealed class RobertaProcessor(string sep, int sepId, string cls, int clsId, bool trimOffsets, bool addPrefixSpace) : IPostProcessor
{
    public int AddedTokens(bool isPair) => isPair ? 4 : 2;

    public IEnumerable<(string Token, int Id, int TypeId)> Specials => [(cls, clsId, 0), (sep, sepId, 0)];

    public IEnumerable<int> SequenceTypeIds => [0];

    public TokenizedText Process(SequenceEncoding a, SequenceEncoding? b, int truncated, bool addSpecialTokens = true)
    {
        if (trimOffsets)
        {
            ProcessOffsets(a, addPrefixSpace);
            if (b != null) ProcessOffsets(b, addPrefixSpace);
        }
        if (!addSpecialTokens && b == null) return EncodingBuilder.Plain(a, truncated);

        var builder = new EncodingBuilder(a.Count + (b == null ? 2 : b.Count + 4));
        builder.AddSpecial(clsId, cls, 0);
        builder.AddSequence(a, 0, 0);
        builder.AddSpecial(sepId, sep, 0);
        if (b != null)
        {
            builder.AddSpecial(sepId, sep, 0);
            builder.AddSequence(b, 1, 0);
            builder.AddSpecial(sepId, sep, 0);
        }

        return builder.Build(truncated);
    }

    /// <summary>HF <c>byte_level::process_offsets</c>: trims leading/trailing 'Ġ' and whitespace off the offsets.</summary>
    internal static void ProcessOffsets(SequenceEncoding e, bool addPrefixSpace)
    {
        for (var i = 0; i < e.Count; i++)
        {
            var token = e.Tokens[i];
            var leading = 0;
            while (leading < token.Length && IsSpaceChar(token[leading])) leading++;
            var trailing = 0;
            while (trailing < token.Length && IsSpaceChar(token[token.Length - 1 - trailing])) trailing++;
            if (leading == 0 && trailing == 0) continue;

            var (start, end) = (e.Offsets[i].Start, e.Offsets[i].End);
            if (leading > 0)
            {
                var isFirst = i == 0 || start == 0;
                if (isFirst && addPrefixSpace && leading == 1) leading = 0;
                start = Math.Min(start + leading, end);
            }

            if (trailing > 0 && end >= trailing) end = Math.Max(end - trailing, start);
            e.Offsets[i] = new TokenOffset(start, end);
        }
    }

    private static bool IsSpaceChar(char c) => c == '\u0120' || UnicodeTables.IsWhiteSpace(c);
}

namespace TransformerEmbeddings.Tokenization;

/// <summary>One sequence's tokens before post-processing (HF <c>Encoding</c> of a single sequence).</summary>
internal sealed class SequenceEncoding
{
    public readonly List<int> Ids = [];
    public readonly List<string> Tokens = [];
    public readonly List<TokenOffset> Offsets = [];
    public readonly List<int?> WordIds = [];

    public int Count => Ids.Count;

    /// <summary>HF <c>Encoding::truncate</c> to the right, stride 0; returns how many tokens were removed.</summary>
    public int Truncate(int maxLength)
    {
        if (maxLength >= Count) return 0;
        var removed = Count - maxLength;
        Ids.RemoveRange(maxLength, removed);
        Tokens.RemoveRange(maxLength, removed);
        Offsets.RemoveRange(maxLength, removed);
        WordIds.RemoveRange(maxLength, removed);
        return removed;
    }
}

/// <summary>A post-processor stage (HF <c>PostProcessor</c>): adds special tokens, sets type and sequence ids.</summary>
internal interface IPostProcessor
{
    int AddedTokens(bool isPair);

    TokenizedText Process(SequenceEncoding a, SequenceEncoding? b, int truncated);
}

/// <summary>Collects the final token lists.</summary>
internal sealed class EncodingBuilder(int capacity)
{
    private readonly List<int> _ids = new(capacity);
    private readonly List<string> _tokens = new(capacity);
    private readonly List<TokenOffset> _offsets = new(capacity);
    private readonly List<int?> _words = new(capacity);
    private readonly List<int?> _sequences = new(capacity);
    private readonly List<int> _types = new(capacity);
    private readonly List<int> _special = new(capacity);

    public void AddSpecial(int id, string token, int typeId)
    {
        _ids.Add(id);
        _tokens.Add(token);
        _offsets.Add(default);
        _words.Add(null);
        _sequences.Add(null);
        _types.Add(typeId);
        _special.Add(1);
    }

    public void AddSequence(SequenceEncoding e, int sequenceId, int typeId)
    {
        for (var i = 0; i < e.Count; i++)
        {
            _ids.Add(e.Ids[i]);
            _tokens.Add(e.Tokens[i]);
            _offsets.Add(e.Offsets[i]);
            _words.Add(e.WordIds[i]);
            _sequences.Add(sequenceId);
            _types.Add(typeId);
            _special.Add(0);
        }
    }

    public TokenizedText Build(int truncated) => new(_ids.ToArray(), _tokens.ToArray(), _offsets.ToArray(), _words.ToArray(),
        _sequences.ToArray(), _types.ToArray(), _special.ToArray(), truncated);
}

/// <summary>One piece of a <c>TemplateProcessing</c> template.</summary>
internal readonly record struct TemplatePiece(bool IsSequence, int SequenceIndex, string[] SpecialTokens, int[] SpecialIds, int TypeId);

/// <summary>HF <c>TemplateProcessing</c> (also used for <c>BertProcessing</c>).</summary>
internal sealed class TemplateProcessor(IReadOnlyList<TemplatePiece> single, IReadOnlyList<TemplatePiece> pair) : IPostProcessor
{
    public int AddedTokens(bool isPair) => (isPair ? pair : single).Where(p => !p.IsSequence).Sum(p => p.SpecialIds.Length);

    public TokenizedText Process(SequenceEncoding a, SequenceEncoding? b, int truncated)
    {
        var builder = new EncodingBuilder(a.Count + (b?.Count ?? 0) + 4);
        foreach (var piece in b == null ? single : pair)
        {
            if (piece.IsSequence)
            {
                var e = piece.SequenceIndex == 0 ? a : b!;
                builder.AddSequence(e, piece.SequenceIndex, piece.TypeId);
            }
            else
            {
                for (var i = 0; i < piece.SpecialIds.Length; i++) builder.AddSpecial(piece.SpecialIds[i], piece.SpecialTokens[i], piece.TypeId);
            }
        }

        return builder.Build(truncated);
    }
}

/// <summary>HF <c>RobertaProcessing</c>: &lt;s&gt; A &lt;/s&gt; (&lt;/s&gt; B &lt;/s&gt;), type ids all 0, optional offset trimming.</summary>
internal sealed class RobertaProcessor(string sep, int sepId, string cls, int clsId, bool trimOffsets, bool addPrefixSpace) : IPostProcessor
{
    public int AddedTokens(bool isPair) => isPair ? 4 : 2;

    public TokenizedText Process(SequenceEncoding a, SequenceEncoding? b, int truncated)
    {
        if (trimOffsets)
        {
            ProcessOffsets(a, addPrefixSpace);
            if (b != null) ProcessOffsets(b, addPrefixSpace);
        }

        var builder = new EncodingBuilder(a.Count + (b?.Count ?? 0) + 4);
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

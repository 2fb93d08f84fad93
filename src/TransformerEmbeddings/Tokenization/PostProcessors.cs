namespace TransformerEmbeddings.Tokenization;

/// <summary>One sequence's tokens before post-processing (HF <c>Encoding</c> of a single sequence).</summary>
internal sealed class SequenceEncoding
{
    public readonly List<int> Ids = [];
    public readonly List<string> Tokens = [];
    public readonly List<TokenOffset> Offsets = [];
    public readonly List<int?> WordIds = [];

    public int Count => Ids.Count;

    /// <summary>Empties the encoding for reuse.</summary>
    public void Clear()
    {
        Ids.Clear();
        Tokens.Clear();
        Offsets.Clear();
        WordIds.Clear();
    }

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

/// <summary>Fills the final token arrays, allocated once at their exact size.</summary>
internal sealed class EncodingBuilder(int count)
{
    private readonly int[] _ids = new int[count];
    private readonly string[] _tokens = new string[count];
    private readonly TokenOffset[] _offsets = new TokenOffset[count];
    private readonly int?[] _words = new int?[count];
    private readonly int?[] _sequences = new int?[count];
    private readonly int[] _types = new int[count];
    private readonly int[] _special = new int[count];
    private int _n;

    public void AddSpecial(int id, string token, int typeId)
    {
        _ids[_n] = id;
        _tokens[_n] = token;
        _types[_n] = typeId;
        _special[_n] = 1;
        _n++;
    }

    public void AddSequence(SequenceEncoding e, int sequenceId, int typeId)
    {
        var n = e.Count;
        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(e.Ids).CopyTo(_ids.AsSpan(_n));
        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(e.Tokens).CopyTo(_tokens.AsSpan(_n));
        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(e.Offsets).CopyTo(_offsets.AsSpan(_n));
        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(e.WordIds).CopyTo(_words.AsSpan(_n));
        _sequences.AsSpan(_n, n).Fill(sequenceId);
        if (typeId != 0) _types.AsSpan(_n, n).Fill(typeId);
        _n += n;
    }

    public TokenizedText Build(int truncated)
    {
        if (_n != _ids.Length) throw new InvalidOperationException($"Built {_n} of {_ids.Length} tokens.");
        return new(_ids, _tokens, _offsets, _words, _sequences, _types, _special, truncated);
    }
}

/// <summary>One piece of a <c>TemplateProcessing</c> template.</summary>
internal readonly record struct TemplatePiece(bool IsSequence, int SequenceIndex, string[] SpecialTokens, int[] SpecialIds, int TypeId);

/// <summary>HF <c>TemplateProcessing</c> (also used for <c>BertProcessing</c>).</summary>
internal sealed class TemplateProcessor(IReadOnlyList<TemplatePiece> single, IReadOnlyList<TemplatePiece> pair) : IPostProcessor
{
    private readonly int _addedSingle = single.Where(p => !p.IsSequence).Sum(p => p.SpecialIds.Length);
    private readonly int _addedPair = pair.Where(p => !p.IsSequence).Sum(p => p.SpecialIds.Length);

    public int AddedTokens(bool isPair) => isPair ? _addedPair : _addedSingle;

    public TokenizedText Process(SequenceEncoding a, SequenceEncoding? b, int truncated)
    {
        var template = b == null ? single : pair;
        var count = 0;
        foreach (var piece in template)
            count += piece.IsSequence ? (piece.SequenceIndex == 0 ? a : b!).Count : piece.SpecialIds.Length;
        var builder = new EncodingBuilder(count);
        foreach (var piece in template)
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

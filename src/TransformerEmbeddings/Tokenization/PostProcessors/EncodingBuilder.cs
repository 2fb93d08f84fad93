namespace TransformerEmbeddings.Tokenization;

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

    /// <summary>One sequence as it is, without special tokens (HF <c>add_special_tokens=False</c>): type and sequence id 0.</summary>
    public static TokenizedText Plain(SequenceEncoding a, int truncated)
    {
        var builder = new EncodingBuilder(a.Count);
        builder.AddSequence(a, 0, 0);
        return builder.Build(truncated);
    }

    public TokenizedText Build(int truncated)
    {
        if (_n != _ids.Length) throw new InvalidOperationException($"Built {_n} of {_ids.Length} tokens.");
        return new(_ids, _tokens, _offsets, _words, _sequences, _types, _special, truncated);
    }
}

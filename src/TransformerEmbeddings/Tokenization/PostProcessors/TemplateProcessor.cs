namespace TransformerEmbeddings.Tokenization;

/// <summary>HF <c>TemplateProcessing</c> (also used for <c>BertProcessing</c>).</summary>
internal sealed class TemplateProcessor(IReadOnlyList<TemplatePiece> single, IReadOnlyList<TemplatePiece> pair) : IPostProcessor
{
    private readonly int _addedSingle = single.Where(p => !p.IsSequence).Sum(p => p.SpecialIds.Length);
    private readonly int _addedPair = pair.Where(p => !p.IsSequence).Sum(p => p.SpecialIds.Length);

    public int AddedTokens(bool isPair) => isPair ? _addedPair : _addedSingle;

    public IEnumerable<(string Token, int Id, int TypeId)> Specials =>
        single.Concat(pair).Where(p => !p.IsSequence).SelectMany(p => p.SpecialTokens.Zip(p.SpecialIds, (t, id) => (t, id, p.TypeId)));

    public IEnumerable<int> SequenceTypeIds => single.Concat(pair).Where(p => p.IsSequence).Select(p => p.TypeId);

    public TokenizedText Process(SequenceEncoding a, SequenceEncoding? b, int truncated, bool addSpecialTokens = true)
    {
        if (!addSpecialTokens && b == null) return EncodingBuilder.Plain(a, truncated);
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

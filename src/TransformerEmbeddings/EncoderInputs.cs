using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Runtime;
using TransformerEmbeddings.Tokenization;
using static TorchSharp.torch;

namespace TransformerEmbeddings;

/// <summary>
/// One right-padded batch: ids, attention mask and token type ids, (B, S) int64 each, plus the tokenization it came
/// from when it came from text. Owns its tensors: dispose it.
/// </summary>
public sealed class EncoderInputs : IDisposable
{
    private EncoderInputs(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds, IReadOnlyList<TokenizedText>? tokenization)
    {
        InputIds = inputIds;
        AttentionMask = attentionMask;
        TokenTypeIds = tokenTypeIds;
        Tokenization = tokenization;
    }

    /// <summary>(B, S) token ids, padded with the model's pad id.</summary>
    public Tensor InputIds { get; }

    /// <summary>(B, S) 1 on real tokens, 0 on padding.</summary>
    public Tensor AttentionMask { get; }

    /// <summary>(B, S) segment ids (1 on the second text of a BERT pair), 0 on padding.</summary>
    public Tensor TokenTypeIds { get; }

    /// <summary>The tokenization of each row, when the batch was made from text.</summary>
    public IReadOnlyList<TokenizedText>? Tokenization { get; }

    /// <summary>B.</summary>
    public int BatchSize => (int)InputIds.shape[0];

    /// <summary>S, the padded length.</summary>
    public int SequenceLength => (int)InputIds.shape[1];

    /// <summary>Pads tokenized texts to the longest into one batch.</summary>
    /// <param name="texts">The tokenized texts (<see cref="TransformerTokenizer.EncodeBatch(IReadOnlyList{string}, int?)"/>).</param>
    /// <param name="padTokenId">The id padding positions get (<see cref="TransformerTokenizer.PadTokenId"/>).</param>
    /// <returns>The batch, on the CPU; dispose it.</returns>
    public static EncoderInputs Create(IReadOnlyList<TokenizedText> texts, int padTokenId)
    {
        ArgumentNullException.ThrowIfNull(texts);
        return Build(texts.Select(t => t.Ids).ToList(), texts.Select(t => t.TypeIds).ToList(), padTokenId, texts);
    }

    /// <summary>Pads id sequences to the longest into one batch.</summary>
    /// <param name="ids">Token ids per row (special tokens included).</param>
    /// <param name="padTokenId">The id padding positions get.</param>
    /// <param name="tokenTypeIds">Segment ids per row, or null for all zeros.</param>
    /// <returns>The batch, on the CPU; dispose it.</returns>
    public static EncoderInputs Create(IReadOnlyList<IReadOnlyList<int>> ids, int padTokenId, IReadOnlyList<IReadOnlyList<int>>? tokenTypeIds = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return Build(ids, tokenTypeIds, padTokenId, null);
    }

    private static EncoderInputs Build(
        IReadOnlyList<IReadOnlyList<int>> ids, IReadOnlyList<IReadOnlyList<int>>? types, int pad, IReadOnlyList<TokenizedText>? tokenization)
    {
        if (ids.Count == 0) throw new ArgumentException("A batch needs at least one sequence.", nameof(ids));
        NativeRuntime.EnsureLoaded(); // inputs can be built before any model is loaded
        var b = ids.Count;
        var s = Math.Max(1, ids.Max(r => r.Count));
        var idData = new long[b * s];
        var maskData = new long[b * s];
        var typeData = new long[b * s];
        for (var i = 0; i < b; i++)
        {
            var row = ids[i];
            var typeRow = types?[i];
            for (var j = 0; j < s; j++)
            {
                var real = j < row.Count;
                idData[i * s + j] = real ? row[j] : pad;
                maskData[i * s + j] = real ? 1 : 0;
                typeData[i * s + j] = real && typeRow != null ? typeRow[j] : 0;
            }
        }
        return new EncoderInputs(
            tensor(idData, [b, s]).DetachFromDisposeScope(),
            tensor(maskData, [b, s]).DetachFromDisposeScope(),
            tensor(typeData, [b, s]).DetachFromDisposeScope(),
            tokenization);
    }

    /// <summary>Checks the batch against a model: its length against the position table, its ids against the vocabularies.</summary>
    /// <exception cref="ArgumentException">A sequence is too long, or an id lies outside its table.</exception>
    internal void Validate(EncoderConfig config)
    {
        CheckLength(SequenceLength, config);
        using var scope = NewDisposeScope();
        var (min, max) = (InputIds.min().item<long>(), InputIds.max().item<long>());
        if (min < 0 || max >= config.VocabSize)
            throw new ArgumentException($"Token ids must lie in 0..{config.VocabSize - 1}; found {(min < 0 ? min : max)}.", "inputs");
        if (config.TypeVocabSize == 0) return; // DistilBERT and MPNet ignore token types (their tokenizers still mark pairs)
        var (tmin, tmax) = (TokenTypeIds.min().item<long>(), TokenTypeIds.max().item<long>());
        if (tmin < 0 || tmax >= config.TypeVocabSize)
            throw new ArgumentException($"Token type ids must lie in 0..{config.TypeVocabSize - 1}; found {(tmin < 0 ? tmin : tmax)}.", "inputs");
    }

    /// <summary>Refuses a sequence longer than the model's position table.</summary>
    /// <exception cref="ArgumentException">It is longer.</exception>
    internal static void CheckLength(long length, EncoderConfig config)
    {
        if (length > config.MaxSequenceLength)
            throw new ArgumentException(
                $"A sequence of {length} tokens is longer than this model's {config.MaxSequenceLength} positions; truncate it (the tokenizer does so by default).", "inputs");
    }

    /// <summary>Releases the tensors.</summary>
    public void Dispose()
    {
        InputIds.Dispose();
        AttentionMask.Dispose();
        TokenTypeIds.Dispose();
    }
}

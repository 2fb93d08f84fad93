using TransformerEmbeddings.Modeling;
using TransformerEmbeddings.Tokenization;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Inspection;

/// <summary>
/// The model's vocabulary as vectors (<see cref="TransformerModel.Vocabulary"/>): the raw rows of the word-embedding
/// matrix, <c>E[id]</c>, before position, token type and LayerNorm. Token strings are spelled as the tokenizer spells
/// them (<c>##ing</c>, <c>Ġthe</c>, <c>▁the</c>).
/// </summary>
public sealed class Vocabulary
{
    private readonly EmbeddingTable table;
    private readonly TransformerTokenizer tokenizer;
    private readonly string folder;
    private readonly Runtime.CallGuard calls;

    internal Vocabulary(EmbeddingTable table, TransformerTokenizer tokenizer, int count, string folder, Runtime.CallGuard calls)
    {
        this.calls = calls;
        this.table = table;
        this.tokenizer = tokenizer;
        this.folder = folder;
        Count = count;
    }

    /// <summary>The number of rows of E (<c>vocab_size</c>).</summary>
    public int Count { get; }

    /// <summary>The rows <c>E[id]</c> of token ids, (N, H): a new tensor you own.</summary>
    /// <param name="ids">Token ids, 0..<see cref="Count"/>-1.</param>
    /// <returns>The vectors.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An id lies outside the vocabulary.</exception>
    public Tensor Vectors(IReadOnlyList<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        foreach (var id in ids)
        {
            if (id < 0 || id >= Count)
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside the vocabulary (0..{Count - 1}).");
        }
        using var call = calls.Enter(); // the model's Dispose waits for this read
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var index = tensor(ids.Select(i => (long)i).ToArray(), device: table.Weight.device);
        return scope.MoveToOuter(table.call(index).clone());
    }

    /// <summary>The rows <c>E[id]</c> of token strings, (N, H): a new tensor you own.</summary>
    /// <param name="tokens">Tokens from the vocabulary.</param>
    /// <returns>The vectors.</returns>
    /// <exception cref="ArgumentException">A token is not in the vocabulary.</exception>
    public Tensor Vectors(IReadOnlyList<string> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        return Vectors(tokens.Select(t => tokenizer.TokenToId(t)
            ?? throw new ArgumentException($"'{t}' is not in the vocabulary of {folder}; spell it as the tokenizer does (model.Tokenizer.Encode(text).Tokens).", nameof(tokens))).ToList());
    }
}

using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Modeling;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Inspection;

/// <summary>
/// The weights of a loaded model, for analysis (<see cref="TransformerModel.Weights"/>). The embedding tables are the
/// model's own tensors, lent for as long as the model lives: read them, never dispose or modify them.
/// <see cref="Attention"/> makes copies in TransformerLens shapes that you own.
/// </summary>
public sealed class ModelWeights
{
    private readonly EncoderModel model;
    private readonly EncoderConfig config;
    private readonly Runtime.CallGuard calls;

    internal ModelWeights(EncoderModel model, EncoderConfig config, Runtime.CallGuard calls)
    {
        this.calls = calls;
        this.model = model;
        this.config = config;
    }

    /// <summary>The word-embedding matrix E, (vocab, H). Lent.</summary>
    public Tensor WordEmbeddings => model.WordEmbeddings.Weight;

    /// <summary>The position-embedding table, (max_position_embeddings, H). Lent.</summary>
    public Tensor PositionEmbeddings => model.PositionEmbeddings.Weight;

    /// <summary>The token-type-embedding table, (type_vocab_size, H). Lent. Null for families without token types
    /// (DistilBERT, MPNet), whose models ignore token type ids.</summary>
    public Tensor? TokenTypeEmbeddings => model.TokenTypeEmbeddings?.Weight;

    /// <summary>
    /// One layer's attention weights in TransformerLens shapes: W_Q, W_K, W_V (heads, d_model, d_head), W_O
    /// (heads, d_head, d_model) and their biases. Copies you own: dispose the result.
    /// </summary>
    /// <param name="layer">0..L-1, negative from the end.</param>
    /// <returns>The weights.</returns>
    public AttentionWeights Attention(int layer)
    {
        var index = LayerIndex.Layer(layer, config.NumHiddenLayers, nameof(layer));
        using var call = calls.Enter(); // the model's Dispose waits for the copy
        return AttentionWeights.From(model.AttentionOf(index), config);
    }
}

using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Modeling;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Analysis;

/// <summary>
/// The value space of one layer: what a token's per-head encoding (<c>attentions @ value</c>) is nearest to among the
/// whole vocabulary placed at the token's position and projected by the same layer's value projection, head by head.
/// <code>
/// using var output = model.Encode([text], new CaptureOptions { Kinds = ActivationKind.Contexts, Layers = [3] });
/// var nearest = new ValueSpace(model, layer: 3).Nearest(output, sequence: 0, position: 4);
/// // nearest.Heads[h].Cosine.Tokens: the 10 nearest tokens of head h; .SelfRank: where the token itself ranks
/// </code>
/// The vocabulary is <c>LayerNorm(E[id] + P[position id] + T[0]) W_Vᵀ + b_V</c> (<see cref="VocabularyInput"/> for
/// others), computed in float64 a chunk of rows at a time: memory stays a few tens of MiB for a 250k vocabulary, and
/// each chunk serves every head and metric.
/// </summary>
public sealed class ValueSpace
{
    private readonly TransformerModel model;

    /// <summary>The value space of block <paramref name="layer"/> of <paramref name="model"/>.</summary>
    /// <param name="model">The model.</param>
    /// <param name="layer">The block, 0-based, negative from the end.</param>
    public ValueSpace(TransformerModel model, int layer)
    {
        ArgumentNullException.ThrowIfNull(model);
        this.model = model;
        Layer = LayerIndex.Layer(layer, model.Config.NumHiddenLayers, nameof(layer));
    }

    /// <summary>The block, 0-based.</summary>
    public int Layer { get; }

    /// <summary>
    /// The vocabulary tokens nearest to the encoding of the token at (<paramref name="sequence"/>,
    /// <paramref name="position"/>), per head, with the rank of the token's own id.
    /// </summary>
    /// <param name="output">An output of the same model with <see cref="ActivationKind.Contexts"/> captured for this layer
    /// (and <see cref="ActivationKind.HiddenStates"/> for <see cref="VocabularyInput.LayerInputStatistics"/>).</param>
    /// <param name="sequence">The row of the batch.</param>
    /// <param name="position">The token index, special tokens included.</param>
    /// <param name="options">k, metrics, heads, vocabulary input; the defaults when null.</param>
    /// <returns>Per head, the top k under each metric.</returns>
    /// <exception cref="NotCapturedException">The output did not capture what is needed; the message says what to ask for.</exception>
    public ValueSpaceNeighbors Nearest(EncoderOutput output, int sequence, int position, NearestOptions? options = null) =>
        Nearest(output, sequence, position, options ?? new NearestOptions(), ValueSpaceFormula.Correct);

    internal ValueSpaceNeighbors Nearest(EncoderOutput output, int sequence, int position, NearestOptions options, ValueSpaceFormula formula)
    {
        ArgumentNullException.ThrowIfNull(output);
        options.Validate();
        var (tokenId, heads) = Check(output, sequence, position, options);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var targets = output.Contexts(Layer)[sequence, .., position].to(ScalarType.Float64).cpu().index_select(0, HeadIndex(heads)); // (G, d_head)
        var positionId = output.PositionIds[sequence, position].item<long>();
        using var vocabulary = new VocabularyProjection(model, Layer, positionId, options.Vocabulary, formula, heads,
            options.Vocabulary == VocabularyInput.LayerInputStatistics ? RealTokens(output, output.HiddenState(Layer)) : null);
        var (cosine, euclidean) = StreamingNearest.Run(targets, vocabulary.Count, vocabulary.Chunk, vocabulary.Project, tokenId, options.K, options.Metrics);
        return new ValueSpaceNeighbors(Layer, sequence, position, tokenId, Collect(heads, cosine, euclidean, id => (id, null)));
    }

    /// <summary>
    /// The tokens of the same sequence whose per-head vectors at this layer are nearest to the encoding of the token at
    /// (<paramref name="sequence"/>, <paramref name="position"/>): the other tokens' encodings, or every token's value vector.
    /// </summary>
    /// <param name="output">An output with <see cref="ActivationKind.Contexts"/> (and <see cref="ActivationKind.Values"/> for
    /// <see cref="SequenceVectors.Values"/>) captured for this layer.</param>
    /// <param name="sequence">The row of the batch.</param>
    /// <param name="position">The token index, special tokens included.</param>
    /// <param name="candidates">What the encoding is compared with.</param>
    /// <param name="options">k, metrics and heads; the defaults when null.</param>
    /// <returns>Per head, the nearest tokens with their positions (<see cref="TokenDistance.Position"/>).</returns>
    public ValueSpaceNeighbors NearestInSequence(EncoderOutput output, int sequence, int position,
        SequenceVectors candidates = SequenceVectors.Contexts, NearestOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        options ??= new NearestOptions();
        options.Validate();
        var (tokenId, heads) = Check(output, sequence, position, options);
        var tokenization = output.RequireTokenization(sequence);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var index = HeadIndex(heads);
        var contexts = output.Contexts(Layer)[sequence].to(ScalarType.Float64).cpu().index_select(0, index); // (G, S, d_head)
        var targets = contexts[.., position];                                                              // (G, d_head)
        var length = output.Length(sequence);
        var source = candidates == SequenceVectors.Values
            ? output.Values(Layer)[sequence].to(ScalarType.Float64).cpu().index_select(0, index)
            : contexts;
        var positions = Enumerable.Range(0, length).Where(p => candidates == SequenceVectors.Values || p != position).ToArray();
        if (positions.Length == 0)
            throw new ArgumentException($"Row {sequence} has no other token to compare with.", nameof(position));
        var rows = source.index_select(1, tensor(positions.Select(p => (long)p).ToArray())).permute(1, 0, 2); // (n, G, d_head)
        long? self = candidates == SequenceVectors.Values ? position : null;
        var (cosine, euclidean) = StreamingNearest.Run(targets, positions.Length, positions.Length, (s, n) => rows.narrow(0, s, n),
            self, options.K, options.Metrics);
        return new ValueSpaceNeighbors(Layer, sequence, position, tokenId,
            Collect(heads, cosine, euclidean, i => (tokenization.Ids[positions[i]], positions[i])));
    }

    /// <summary>
    /// The whole vocabulary projected into this layer's value space, (V, heads, head_dim) float32: a new tensor the
    /// caller owns. V × H floats at once (1 GiB for 250k × 1024): prefer <see cref="Nearest(EncoderOutput, int, int, NearestOptions?)"/> for searches.
    /// </summary>
    /// <param name="positionId">The position id the tokens sit at, as <see cref="EncoderOutput.PositionIds"/> gives it
    /// (BERT: the position; RoBERTa: padding index + 1 + the position).</param>
    /// <param name="input"><see cref="VocabularyInput.EmbeddingOutput"/> or <see cref="VocabularyInput.WordEmbeddings"/>.</param>
    /// <returns>The projected vocabulary.</returns>
    public Tensor ProjectVocabulary(long positionId, VocabularyInput input = VocabularyInput.EmbeddingOutput)
    {
        if (input == VocabularyInput.LayerInputStatistics)
            throw new ArgumentException("LayerInputStatistics needs an encoder output; use Nearest with NearestOptions.Vocabulary.", nameof(input));
        using var vocabulary = new VocabularyProjection(model, Layer, positionId, input, ValueSpaceFormula.Correct);
        var result = empty(vocabulary.Count, vocabulary.Heads, vocabulary.HeadDim, ScalarType.Float32);
        using var _ = no_grad();
        for (long s = 0; s < vocabulary.Count; s += vocabulary.Chunk)
        {
            using var scope = NewDisposeScope();
            var n = Math.Min(vocabulary.Chunk, vocabulary.Count - s);
            result.narrow(0, s, n).copy_(vocabulary.Project(s, n));
        }
        return result;
    }

    private (int TokenId, int[] Heads) Check(EncoderOutput output, int sequence, int position, NearestOptions options)
    {
        if (output.Config != model.Config)
            throw new ArgumentException("The output comes from another model.", nameof(output));
        if (sequence < 0 || sequence >= output.BatchSize)
            throw new ArgumentOutOfRangeException(nameof(sequence), sequence, $"The batch has {output.BatchSize} rows.");
        var length = output.Length(sequence);
        if (position < 0 || position >= length)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"Row {sequence} has {length} real tokens (0..{length - 1}).");
        var count = model.Config.NumAttentionHeads;
        var heads = options.Heads?.Select(h => h < 0 ? h + count : h).ToArray() ?? Enumerable.Range(0, count).ToArray();
        foreach (var (given, h) in (options.Heads ?? heads).Zip(heads))
            if (h < 0 || h >= count)
                throw new ArgumentOutOfRangeException(nameof(options), given, $"Head {given} does not exist; layers have {count} heads (0..{count - 1}, or -{count}..-1).");
        return ((int)output.InputIds[sequence, position].item<long>(), heads);
    }

    private static Tensor HeadIndex(int[] heads) => tensor(heads.Select(h => (long)h).ToArray());

    /// <summary>The rows of a (B, S, H) tensor at real tokens, (N, H).</summary>
    private static Tensor RealTokens(EncoderOutput output, Tensor states) =>
        states[output.AttentionMask.to(ScalarType.Bool)];

    private IReadOnlyList<HeadNeighbors> Collect(int[] heads, StreamingNearest.Result? cosine, StreamingNearest.Result? euclidean,
        Func<int, (int Id, int? Position)> candidate)
    {
        NearestTokens? Make(StreamingNearest.Result? r, int g)
        {
            if (r is null) return null;
            var tokens = new TokenDistance[r.Ids[g].Length];
            for (var i = 0; i < tokens.Length; i++)
            {
                var (id, position) = candidate((int)r.Ids[g][i]);
                tokens[i] = new TokenDistance(id, model.Tokenizer.IdToToken(id) ?? "", r.Distances[g][i], position);
            }
            return new NearestTokens(tokens, r.SelfRanks[g]);
        }

        return heads.Select((h, g) => new HeadNeighbors(h, Make(cosine, g), Make(euclidean, g))).ToList();
    }
}

using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Modeling;
using TransformerEmbeddings.Runtime;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Analysis;

/// <summary>
/// The whole vocabulary at one position, projected by one layer's value projection and split per head, computed a
/// chunk of rows at a time in float64 (so a 250k vocabulary never needs its [V, heads, head_dim] matrix at once).
/// Holds float64 copies of the few weights involved: the value projection (H × H), the row added to every token
/// (position + token type) and the embeddings LayerNorm.
/// </summary>
internal sealed class VocabularyProjection : IDisposable
{
    /// <summary>Elements of one (rows × H) float64 chunk: 4M values, 32 MiB.</summary>
    private const long ChunkElements = 1 << 22;

    private readonly Tensor table;          // E (V, H), the model's
    private readonly Tensor? offset;        // (H): P[position id] (+ T[0]); null for raw rows
    private readonly Tensor? lnWeight, lnBias;
    private readonly double eps;
    private readonly Tensor? shift, scale;  // (H): x * scale + shift moves the vocabulary to a layer input's statistics
    private readonly Tensor weight;         // (H, heads * head_dim): x @ weight
    private readonly Tensor? bias;          // (heads * head_dim)
    private readonly List<Tensor> owned = [];

    /// <param name="model">The model.</param>
    /// <param name="layer">The block, 0-based.</param>
    /// <param name="positionId">The position id every token sits at.</param>
    /// <param name="input">Which vectors stand for the vocabulary.</param>
    /// <param name="formula">The formula's terms (<see cref="ValueSpaceFormula.Correct"/> outside tests).</param>
    /// <param name="heads">The heads to project (only their columns of the value weight are multiplied); all when null.</param>
    /// <param name="layerInput">(N, H) states of the hidden state the layer reads, for <see cref="VocabularyInput.LayerInputStatistics"/>.</param>
    public VocabularyProjection(TransformerModel model, int layer, long positionId, VocabularyInput input, ValueSpaceFormula formula,
        IReadOnlyList<int>? heads = null, Tensor? layerInput = null)
    {
        var config = model.Config;
        heads ??= Enumerable.Range(0, config.NumAttentionHeads).ToArray();
        Heads = heads.Count;
        HeadDim = config.HeadDim;
        Count = config.VocabSize;
        Chunk = Math.Max(256, ChunkElements / config.HiddenSize);
        table = model.Weights.WordEmbeddings;
        if (positionId < 0 || positionId >= config.MaxPositionEmbeddings)
            throw new ArgumentOutOfRangeException(nameof(positionId), positionId, $"Position ids run 0..{config.MaxPositionEmbeddings - 1} in this model.");

        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            if (input != VocabularyInput.WordEmbeddings)
            {
                var row = model.Weights.PositionEmbeddings[positionId].to(ScalarType.Float64).cpu();
                if (formula.TokenType && model.Weights.TokenTypeEmbeddings is { } types)   // DistilBERT and MPNet have none
                    row = row.add(types[0].to(ScalarType.Float64).cpu(), Scalars.One);
                offset = Own(row);
                var (w, b) = EmbeddingsLayerNorm(model);
                lnWeight = Own(w.to(ScalarType.Float64).cpu());
                lnBias = Own(b.to(ScalarType.Float64).cpu());
                eps = config.LayerNormEps;
            }

            using (var attention = model.Weights.Attention(formula.WeightsOfLayer ?? layer))
            {
                var (h, d) = (config.NumAttentionHeads * config.HeadDim, config.HiddenSize);
                var transposed = attention.W_V.permute(1, 0, 2).reshape(d, h).to(ScalarType.Float64).cpu(); // Wᵀ: (d_model, heads·d_head)
                // The columns of the heads asked for: head g owns columns g·d_head .. (g + 1)·d_head.
                var columns = tensor(heads.SelectMany(g => Enumerable.Range(g * HeadDim, HeadDim)).Select(c => (long)c).ToArray());
                weight = Own((formula.TransposeWeight ? transposed : transposed.t()).index_select(1, columns).contiguous());
                if (formula.ValueBias) bias = Own(attention.B_V.reshape(h).to(ScalarType.Float64).cpu().index_select(0, columns));
            }
            scope.Detach(owned.ToArray());
        }

        if (input == VocabularyInput.LayerInputStatistics)
        {
            ArgumentNullException.ThrowIfNull(layerInput);
            (shift, scale) = MatchStatistics(layerInput);
        }
    }

    /// <summary>V.</summary>
    public long Count { get; }

    /// <summary>Rows per chunk.</summary>
    public long Chunk { get; }

    /// <summary>The number of heads projected.</summary>
    public int Heads { get; }

    public int HeadDim { get; }

    /// <summary>The vectors that stand for tokens <paramref name="start"/>.. before the projection, (n, H) float64.</summary>
    public Tensor Inputs(long start, long n)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = table.narrow(0, start, n).to(ScalarType.Float64).cpu();
        if (offset is not null)
            x = nn.functional.layer_norm(x.add(offset, Scalars.One), [x.shape[1]], lnWeight, lnBias, eps);
        if (scale is not null) x = (x * scale).add(shift!, Scalars.One);
        return scope.MoveToOuter(x);
    }

    /// <summary>Tokens <paramref name="start"/>.. in value space per head asked for, (n, heads, head_dim) float64.</summary>
    public Tensor Project(long start, long n)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var v = Inputs(start, n).matmul(weight);
        if (bias is not null) v = v.add_(bias, Scalars.One);
        return scope.MoveToOuter(v.view(n, Heads, HeadDim));
    }

    /// <summary>The embeddings LayerNorm's weight and bias, by their HF names (the same in every family).</summary>
    private static (Tensor Weight, Tensor Bias) EmbeddingsLayerNorm(TransformerModel model)
    {
        Tensor? w = null, b = null;
        foreach (var (name, p) in model.Module.named_parameters())
        {
            if (name == "embeddings.LayerNorm.weight") w = p;
            else if (name == "embeddings.LayerNorm.bias") b = p;
        }
        return (w ?? throw new ModelConfigurationException(model.Folder, null, "the model has no embeddings.LayerNorm.weight."),
            b ?? throw new ModelConfigurationException(model.Folder, null, "the model has no embeddings.LayerNorm.bias."));
    }

    /// <summary>Per-dimension scale and shift taking the vocabulary's statistics to those of <paramref name="layerInput"/> (N, H).</summary>
    private (Tensor Shift, Tensor Scale) MatchStatistics(Tensor layerInput)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var h = layerInput.shape[1];
        var sum = zeros(h, ScalarType.Float64);
        var squares = zeros(h, ScalarType.Float64);
        for (long s = 0; s < Count; s += Chunk)
        {
            using var inner = NewDisposeScope();
            var x = Inputs(s, Math.Min(Chunk, Count - s));
            sum.add_(x.sum(0L), Scalars.One);
            squares.add_(x.pow(Scalars.Two).sum(0L), Scalars.One);
        }
        using var count = Count.ToScalar();
        using var tiny = 1e-12.ToScalar();
        var mean = sum.div(count);
        var std = (squares.div(count) - mean.pow(Scalars.Two)).clamp_min(Scalars.Zero).sqrt().clamp_min(tiny);
        var target = layerInput.to(ScalarType.Float64).cpu();
        var targetMean = target.mean([0L]);
        var targetStd = (target - targetMean).pow(Scalars.Two).mean([0L]).sqrt();
        var scaleT = targetStd / std;
        var shiftT = targetMean - mean * scaleT;
        return (Own(shiftT.DetachFromDisposeScope()), Own(scaleT.DetachFromDisposeScope()));
    }

    private Tensor Own(Tensor t)
    {
        owned.Add(t);
        return t;
    }

    public void Dispose()
    {
        foreach (var t in owned) t.Dispose();
        owned.Clear();
    }
}

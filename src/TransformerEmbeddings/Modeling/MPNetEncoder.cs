using TorchSharp;
using TorchSharp.Modules;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Runtime;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// HF <c>MPNetEncoder</c> (<c>encoder</c>): the layers, and <c>relative_attention_bias</c>, one (buckets, heads) table
/// whose rows, looked up by the bucket of each (query, key) distance, are added to every layer's attention scores.
/// </summary>
internal sealed class MPNetEncoder : nn.Module
{
    // HF's compute_position_bias calls relative_position_bucket with its defaults: 32 buckets, max distance 128.
    private const int Buckets = EncoderConfig.MPNetBuckets;
    private const int MaxDistance = 128;

    private readonly ModuleList<MPNetLayer> layer;
    private readonly EmbeddingTable relative_attention_bias;               // (buckets, heads)

    public MPNetEncoder(WeightPath w, EncoderConfig config) : base("encoder")
    {
        layer = new ModuleList<MPNetLayer>(
            Enumerable.Range(0, config.NumHiddenLayers).Select(i => new MPNetLayer(w["layer"][i], config, i)).ToArray());
        relative_attention_bias = new EmbeddingTable(w["relative_attention_bias"], config.RelativeAttentionNumBuckets, config.NumAttentionHeads);
        RegisterComponents();
    }

    public IList<MPNetLayer> Layers => layer;

    public Tensor forward(Tensor x, Tensor? additiveMask, ForwardTrace? trace)
    {
        using var positionBias = PositionBias(x.shape[1]);                       // (heads, S, S)
        for (var i = 0; i < layer.Count; i++)
        {
            var next = layer[i].forward(x, additiveMask, positionBias, trace);   // (B, S, H)
            if (i > 0) trace.Release(x); // the previous layer's output; layer 0's input belongs to the caller
            x = next;
            trace?.Record(HookPoint.HiddenStates, i + 1, x);
        }
        return x;
    }

    /// <summary>
    /// HF's <c>compute_position_bias</c> without position ids: every row of a batch gets the same (heads, S, S) bias,
    /// from the distance key − query, whatever the padding (padded keys are masked anyway).
    /// </summary>
    public Tensor PositionBias(long length)
    {
        using var scope = NewDisposeScope();
        var device = relative_attention_bias.Weight.device;
        var s = checked((int)length);
        var ofDistance = new long[Math.Max(1, 2 * s - 1)];                      // distance d at index d + S - 1
        for (var d = 1 - s; d <= s - 1; d++) ofDistance[d + s - 1] = RelativePositionBucket(d);
        var memory = Scalars.Arange(s - 1, 2 * s - 1, ScalarType.Int64, device); // key positions, shifted by S - 1
        var context = Scalars.Arange(0, s, ScalarType.Int64, device);
        var relative = memory.unsqueeze(0) - context.unsqueeze(1);              // (S, S): memory − context + S − 1
        var buckets = tensor(ofDistance, device: device).index_select(0, relative.view(-1)).view(s, s);
        var values = relative_attention_bias.call(buckets);                     // (S, S, heads)
        return scope.MoveToOuter(values.permute(2, 0, 1).contiguous());
    }

    /// <summary>
    /// HF's <c>relative_position_bucket</c>: half the buckets for keys before the query, half after; exact distances
    /// below 8, then logarithmic up to <c>max_distance</c> 128, the last bucket beyond. The logarithm is taken in
    /// float32 and truncated, as torch computes it.
    /// </summary>
    /// <param name="relativePosition">Key position minus query position.</param>
    /// <returns>The bucket, 0..31.</returns>
    public static int RelativePositionBucket(int relativePosition)
    {
        const int half = Buckets / 2, maxExact = half / 2;
        var n = -relativePosition;
        var ret = n < 0 ? half : 0;
        n = Math.Abs(n);
        if (n < maxExact) return ret + n;
        var scaled = MathF.Log(n / (float)maxExact) / (float)Math.Log(MaxDistance / (double)maxExact) * (half - maxExact);
        return ret + Math.Min(maxExact + (int)scaled, half - 1);
    }
}

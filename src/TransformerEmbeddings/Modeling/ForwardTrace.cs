using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Kernels.Attention;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// The hook points of one forward pass: which activations to record (TransformerLens-style, by name) and which
/// perturbations to apply. A null trace records nothing and costs nothing; capturing changes what is recorded, not
/// which code runs.
/// </summary>
internal sealed class ForwardTrace
{
    private readonly ActivationKind kinds;
    private readonly bool[] layers;
    private readonly Dictionary<int, List<HeadIntervention>> interventions = [];
    private readonly HashSet<Tensor> kept = new(ReferenceEqualityComparer.Instance);

    public ForwardTrace(CaptureOptions options, int numLayers, int numHeads, Device device)
    {
        kinds = options.Kinds;
        layers = new bool[numLayers];
        if (options.Layers is null) Array.Fill(layers, true);
        else foreach (var l in options.Layers) layers[LayerIndex.Layer(l, numLayers, "Layers")] = true;

        if (options.HeadMask is { } mask)
        {
            if (mask.Length != numLayers || mask.Any(r => r is null || r.Length != numHeads))
                throw new ArgumentException(
                    $"The head mask must be [{numLayers}][{numHeads}] (layers x heads); found [{mask.Length}][{string.Join(",", mask.Select(r => r?.Length ?? 0).Distinct())}].",
                    nameof(options));
            HeadMask = tensor(mask.SelectMany(r => r).ToArray(), [numLayers, numHeads], device: device);
        }

        foreach (var iv in options.Interventions)
        {
            var l = LayerIndex.Layer(iv.Layer, numLayers, "Interventions");
            if (iv.Head < 0 || iv.Head >= numHeads)
                throw new ArgumentOutOfRangeException(nameof(options), $"Head {iv.Head} does not exist; the model has {numHeads} heads per layer.");
            if (!interventions.TryGetValue(l, out var list)) interventions[l] = list = [];
            list.Add(iv with { Layer = l });
        }
    }

    /// <summary>Recorded tensors by name (<c>attentions.3</c>, <c>hidden_states.0</c>, ...).</summary>
    public Dictionary<string, Tensor> Captured { get; } = new(StringComparer.Ordinal);

    /// <summary>[layers, heads] multipliers on attention probabilities, or null.</summary>
    public Tensor? HeadMask { get; }

    public bool Wants(ActivationKind kind) => (kinds & kind) != 0;

    public bool Wants(ActivationKind kind, int layer) => (kinds & kind) != 0 && layers[layer];

    /// <summary>What layer <paramref name="layer"/>'s attention core must record or alter, or null for nothing.</summary>
    public AttentionProbe? Probe(int layer)
    {
        bool probabilities = Wants(ActivationKind.Attentions, layer);
        return probabilities || HeadMask is not null ? new AttentionProbe(probabilities, HeadMask?[layer]) : null;
    }

    public IReadOnlyList<HeadIntervention> InterventionsFor(int layer) =>
        interventions.TryGetValue(layer, out var list) ? list : [];

    /// <summary>Records <paramref name="value"/> as <paramref name="point"/> (index <paramref name="index"/>) when its kind is
    /// wanted for its layer; the output will own it. A view made for it otherwise ends with the call's dispose scope.</summary>
    public void Record(HookPoint point, int index, Tensor value)
    {
        var layer = point.LayerOf(index);
        if (layer < 0 ? !Wants(point.Kind) : !Wants(point.Kind, layer)) return;
        Captured[point.NameAt(index)] = value;
        kept.Add(value);
    }

    /// <summary>Records a point that has no index (<see cref="HookPoint.WordEmbeddings"/>).</summary>
    public void Record(HookPoint point, Tensor value) => Record(point, 0, value);

    /// <summary>Whether the output will own this very tensor.</summary>
    public bool Keeps(Tensor t) => kept.Contains(t);
}

/// <summary>Releasing intermediates as soon as the forward pass is done with them.</summary>
internal static class ForwardTraceExtensions
{
    /// <summary>
    /// Frees a tensor the forward pass no longer needs unless the trace recorded it, so the allocator reuses hot memory
    /// instead of holding every intermediate until the call's scope ends. Views recorded from it keep its storage.
    /// </summary>
    public static void Release(this ForwardTrace? trace, Tensor t)
    {
        if (trace is null || !trace.Keeps(t)) t.Dispose();
    }
}

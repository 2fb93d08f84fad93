using TransformerEmbeddings.Inspection;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// The hook points of one forward pass: which activations to record (TransformerLens-style, by name) and which
/// perturbations to apply. A null trace is the fast path and costs nothing.
/// </summary>
internal sealed class ForwardTrace
{
    private readonly ActivationKind kinds;
    private readonly bool[] layers;
    private readonly Dictionary<int, List<HeadIntervention>> interventions = [];

    public ForwardTrace(CaptureOptions options, int numLayers, int numHeads, Device device)
    {
        kinds = options.Kinds;
        layers = new bool[numLayers];
        if (options.Layers is null) Array.Fill(layers, true);
        else foreach (var l in options.Layers) layers[LayerIndex.Normalize(l, numLayers, "Layers")] = true;

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
            var l = LayerIndex.Normalize(iv.Layer, numLayers, "Interventions");
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

    /// <summary>Whether layer <paramref name="layer"/> must run eager attention (probabilities are needed or altered).</summary>
    public bool NeedsEagerAttention(int layer) =>
        Wants(ActivationKind.Attentions | ActivationKind.Contexts, layer) || HeadMask is not null || interventions.ContainsKey(layer);

    public IReadOnlyList<HeadIntervention> InterventionsFor(int layer) =>
        interventions.TryGetValue(layer, out var list) ? list : [];

    public void Record(string name, Tensor value) => Captured[name] = value;
}

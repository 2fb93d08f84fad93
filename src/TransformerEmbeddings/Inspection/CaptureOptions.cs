namespace TransformerEmbeddings.Inspection;

/// <summary>
/// What a forward pass should capture and how it should be perturbed. Nothing that is not asked for is kept: the
/// default captures nothing. Capturing changes what is recorded, never which code runs. An output asked for something it
/// did not capture throws <see cref="NotCapturedException"/> naming the options to pass here.
/// </summary>
public sealed record CaptureOptions
{
    /// <summary>Captures nothing (the embedding fast path).</summary>
    public static CaptureOptions Nothing { get; } = new();

    /// <summary>Captures every internal of every layer.</summary>
    public static CaptureOptions Everything { get; } = new() { Kinds = ActivationKind.All };

    /// <summary>Which internals to keep.</summary>
    public ActivationKind Kinds { get; init; } = ActivationKind.None;

    /// <summary>Which layers (blocks, 0..L-1, negative from the end) per-layer internals are kept for; hidden state l + 1,
    /// the output of layer l, counts as layer l's (hidden state 0 is always kept). Null means every layer.</summary>
    public IReadOnlyList<int>? Layers { get; init; }

    /// <summary>
    /// HF v4 <c>head_mask</c>: a [layers][heads] multiplier on the attention probabilities of each head; null for none.
    /// </summary>
    public float[][]? HeadMask { get; init; }

    /// <summary>Heads whose context is zeroed or replaced.</summary>
    public IReadOnlyList<HeadIntervention> Interventions { get; init; } = [];

    /// <summary>Whether anything perturbs the forward pass.</summary>
    public bool Perturbs => HeadMask != null || Interventions.Count > 0;

    /// <summary>A copy that also captures <paramref name="kinds"/>.</summary>
    /// <param name="kinds">The internals to add.</param>
    /// <returns>The new options.</returns>
    public CaptureOptions With(ActivationKind kinds) => this with { Kinds = Kinds | kinds };
}

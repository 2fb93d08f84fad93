using static TorchSharp.torch;

namespace TransformerEmbeddings.Pooling;

/// <summary>
/// Token vectors of one <see cref="EncoderOutput"/>, (B, S, D): one hidden state or a reduction of several
/// (<c>output.HiddenStates(^4..).Mean()</c>). A recipe: nothing is computed (and no tensor is held) until a pooling
/// runs, so a chain never leaks native memory.
/// </summary>
public sealed class TokenStates
{
    private readonly Func<Tensor> compute;

    internal TokenStates(EncoderOutput output, Func<Tensor> compute, string description)
    {
        Output = output;
        this.compute = compute;
        Description = description;
    }

    /// <summary>The output these vectors come from.</summary>
    public EncoderOutput Output { get; }

    /// <summary>What these vectors are, e.g. <c>mean of hidden states 3, 4, 5, 6</c>.</summary>
    public string Description { get; }

    /// <summary>Pooling over the tokens of each sentence: one vector per sentence.</summary>
    /// <returns>The token pooler (special tokens included; see <see cref="TokenPooler.WithoutSpecialTokens"/>).</returns>
    public TokenPooler Tokens() => new(this, excludeSpecialTokens: false);

    /// <summary>Pooling over the sub-words of each word: one vector per word (words are the tokenizer's word ids).</summary>
    /// <returns>The word pooler.</returns>
    public WordPooler Words() => new(this);

    /// <summary>The token vectors as a new (B, S, D) float32 tensor on the model's device; the caller owns it.</summary>
    /// <returns>The tensor.</returns>
    public Tensor ToTensor()
    {
        using var scope = NewDisposeScope();
        return scope.MoveToOuter(Compute().clone());
    }

    /// <summary>Runs the recipe; call inside a dispose scope.</summary>
    internal Tensor Compute() => compute();
}

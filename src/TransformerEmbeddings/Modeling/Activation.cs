using TransformerEmbeddings.Configuration;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>The activations HF's <c>ACT2FN</c> maps <c>hidden_act</c> to.</summary>
internal static class Activation
{
    public static Tensor Apply(HiddenActivation act, Tensor x) => act switch
    {
        HiddenActivation.Gelu => x.gelu(),
        HiddenActivation.GeluTanh => x.gelu(TorchSharp.Modules.GELU.Approximate.tanh),
        HiddenActivation.Relu => x.relu(),
        HiddenActivation.Silu => nn.functional.silu(x),
        _ => throw new ArgumentOutOfRangeException(nameof(act), act, null),
    };

    /// <summary>The same activation, overwriting <paramref name="x"/> (which must not be needed afterwards).</summary>
    public static Tensor ApplyInPlace(HiddenActivation act, Tensor x) => act switch
    {
        HiddenActivation.Gelu => x.gelu_(),
        HiddenActivation.GeluTanh => x.gelu_(TorchSharp.Modules.GELU.Approximate.tanh),
        HiddenActivation.Relu => x.relu_(),
        HiddenActivation.Silu => nn.functional.silu(x, inplace: true),
        _ => throw new ArgumentOutOfRangeException(nameof(act), act, null),
    };
}

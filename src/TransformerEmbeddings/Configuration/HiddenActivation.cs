namespace TransformerEmbeddings.Configuration;

/// <summary>The feed-forward activation named by <c>hidden_act</c>.</summary>
public enum HiddenActivation
{
    /// <summary><c>gelu</c>: the exact, erf-based GELU.</summary>
    Gelu,

    /// <summary><c>gelu_new</c>, <c>gelu_pytorch_tanh</c>, <c>gelu_fast</c>: the tanh approximation.</summary>
    GeluTanh,

    /// <summary><c>relu</c>.</summary>
    Relu,

    /// <summary><c>silu</c> / <c>swish</c>.</summary>
    Silu,
}

using TorchSharp;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Runtime;

/// <summary>
/// Numbers for libtorch that outlive the native call. TorchSharp 0.107 turns a number handed to a tensor operation into a
/// <see cref="Scalar"/>, which owns native memory and frees it in a finalizer, and passes its handle to libtorch without
/// keeping the object alive: a garbage collection during the call can free it while libtorch reads it (wrong values,
/// "toDouble: Expected false to be true", a crash). Some calls make one themselves: <c>add(Tensor)</c> (so <c>+</c>),
/// <c>add_(Tensor)</c> and <c>add(Scalar)</c> (alpha 1), <c>square()</c> (exponent 2), <c>arange(stop)</c> (start 0,
/// step 1), and every operator between a tensor and a number. So the library hands libtorch only these cached scalars, a
/// <c>static readonly</c> one made by <see cref="Constant"/>, or a local disposed after the call
/// (<c>using var s = value.ToScalar();</c>), and adds tensors with <c>a.add(b, Scalars.One)</c>. <c>sub</c>, <c>mul</c>
/// and <c>div</c> between two tensors (and <c>-</c>, <c>*</c>, <c>/</c>) take no scalar.
/// </summary>
internal static class Scalars
{
    /// <summary>0, an integer as TorchSharp's own defaults.</summary>
    public static readonly Scalar Zero;

    /// <summary>1, an integer: the <c>alpha</c> of <c>add</c>, as TorchSharp's own default.</summary>
    public static readonly Scalar One;

    /// <summary>2, an integer: the exponent of <c>square()</c>.</summary>
    public static readonly Scalar Two;

    static Scalars()
    {
        NativeRuntime.EnsureLoaded(); // before the first scalar touches the native library
        Zero = 0.ToScalar();
        One = 1.ToScalar();
        Two = 2.ToScalar();
    }

    /// <summary>A scalar for a <c>static readonly</c> field: it lives as long as the process.</summary>
    public static Scalar Constant(double value) => value.ToScalar();

    /// <summary><c>arange(start, stop)</c>, step 1.</summary>
    public static Tensor Arange(long start, long stop, ScalarType dtype, Device? device = null)
    {
        using Scalar from = start.ToScalar(), to = stop.ToScalar();
        return arange(from, to, One, dtype, device);
    }

    /// <summary><c>1 - x</c>, computed as TorchSharp's operator does (<c>-x + 1</c>).</summary>
    public static Tensor OneMinus(Tensor x) => x.neg().add_(One, One);
}

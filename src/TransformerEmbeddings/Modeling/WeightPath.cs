using TorchSharp.Modules;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Weights;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// A position in HF's module tree (<c>encoder.layer.3.attention.self</c>), as candle's <c>VarBuilder.pp</c>: modules
/// take their weights by their own names, so construction and naming are one act. It also carries the
/// <see cref="ComputeBackend"/> (as candle's VarBuilder carries dtype and device), so a module binds its kernels as it takes its weights.
/// </summary>
internal readonly struct WeightPath
{
    private readonly CheckpointLoader loader;
    private readonly string prefix;
    private readonly bool outsideBase;
    private readonly ComputeBackend? backend;

    /// <param name="loader">The checkpoint.</param>
    /// <param name="prefix">The module path.</param>
    /// <param name="outsideBase">
    /// True for heads that live beside the base model (<c>cls.predictions</c>, <c>lm_head</c>, <c>vocab_transform</c> ...),
    /// whose keys never carry the base model's prefix.
    /// </param>
    /// <param name="backend">The kernels modules bind; libtorch when null.</param>
    public WeightPath(CheckpointLoader loader, string prefix = "", bool outsideBase = false, ComputeBackend? backend = null)
    {
        this.loader = loader;
        this.prefix = prefix;
        this.outsideBase = outsideBase;
        this.backend = backend;
    }

    /// <summary>The kernels modules under this path bind.</summary>
    public ComputeBackend Backend => backend ?? ComputeBackend.Libtorch;

    /// <summary>The child path <c>prefix.name</c>.</summary>
    public WeightPath this[string name] => new(loader, Join(name), outsideBase, backend);

    /// <summary>The child path <c>prefix.index</c> (a layer of a ModuleList).</summary>
    public WeightPath this[int index] => new(loader, Join(index.ToString(System.Globalization.CultureInfo.InvariantCulture)), outsideBase, backend);

    public string Prefix => prefix;

    /// <summary>Takes a required tensor of the given shape.</summary>
    public Parameter Take(string name, params long[] shape) => loader.Take(Join(name), shape, outsideBase);

    /// <summary>Whether the checkpoint holds a tensor at <c>prefix.name</c>.</summary>
    public bool Has(string name) => loader.Has(Join(name), outsideBase);

    private string Join(string name) => prefix.Length == 0 ? name : prefix + "." + name;
}

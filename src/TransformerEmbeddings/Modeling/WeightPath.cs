using TorchSharp.Modules;
using TransformerEmbeddings.Weights;

namespace TransformerEmbeddings.Modeling;

/// <summary>
/// A position in HF's module tree (<c>encoder.layer.3.attention.self</c>), as candle's <c>VarBuilder.pp</c>: modules
/// take their weights by their own names, so construction and naming are one act.
/// </summary>
internal readonly struct WeightPath
{
    private readonly CheckpointLoader loader;
    private readonly string prefix;

    public WeightPath(CheckpointLoader loader, string prefix = "")
    {
        this.loader = loader;
        this.prefix = prefix;
    }

    /// <summary>The child path <c>prefix.name</c>.</summary>
    public WeightPath this[string name] => new(loader, Join(name));

    /// <summary>The child path <c>prefix.index</c> (a layer of a ModuleList).</summary>
    public WeightPath this[int index] => new(loader, Join(index.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    public string Prefix => prefix;

    /// <summary>Takes a required tensor of the given shape.</summary>
    public Parameter Take(string name, params long[] shape) => loader.Take(Join(name), shape);

    /// <summary>Whether the checkpoint holds a tensor at <c>prefix.name</c>.</summary>
    public bool Has(string name) => loader.Has(Join(name));

    private string Join(string name) => prefix.Length == 0 ? name : prefix + "." + name;
}

using TorchSharp;
using TorchSharp.Modules;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Inspection;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>HF DistilBERT's <c>Transformer</c> (<c>transformer</c>): the stack of blocks.</summary>
internal sealed class DistilBertTransformer : nn.Module
{
    private readonly ModuleList<DistilBertTransformerBlock> layer;

    public DistilBertTransformer(WeightPath w, EncoderConfig config) : base("transformer")
    {
        layer = new ModuleList<DistilBertTransformerBlock>(
            Enumerable.Range(0, config.NumHiddenLayers).Select(i => new DistilBertTransformerBlock(w["layer"][i], config, i)).ToArray());
        RegisterComponents();
    }

    public IList<DistilBertTransformerBlock> Layers => layer;

    public Tensor forward(Tensor x, Tensor? additiveMask, ForwardTrace? trace)
    {
        for (var i = 0; i < layer.Count; i++)
        {
            var next = layer[i].forward(x, additiveMask, trace);                 // (B, S, H)
            if (i > 0) trace.Release(x); // the previous block's output; block 0's input belongs to the caller
            x = next;
            trace?.Record(HookPoint.HiddenStates, i + 1, x);
        }
        return x;
    }
}

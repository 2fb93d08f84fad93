using TorchSharp;
using TorchSharp.Modules;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Inspection;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Modeling;

/// <summary>HF <c>BertEncoder</c>: the stack of layers.</summary>
internal sealed class BertEncoder : nn.Module
{
    private readonly ModuleList<BertLayer> layer;

    public BertEncoder(WeightPath w, EncoderConfig config) : base("encoder")
    {
        layer = new ModuleList<BertLayer>(
            Enumerable.Range(0, config.NumHiddenLayers).Select(i => new BertLayer(w["layer"][i], config, i)).ToArray());
        RegisterComponents();
    }

    public IList<BertLayer> Layers => layer;

    public Tensor forward(Tensor x, Tensor? additiveMask, ForwardTrace? trace)
    {
        for (var i = 0; i < layer.Count; i++)
        {
            var next = layer[i].forward(x, additiveMask, trace);                 // (B, S, H)
            if (i > 0) trace.Release(x); // the previous layer's output; layer 0's input belongs to the caller
            x = next;
            trace?.Record(HookPoint.HiddenStates, i + 1, x);
        }
        return x;
    }
}

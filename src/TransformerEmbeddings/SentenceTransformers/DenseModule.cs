using System.Text.Json;
using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Modeling;
using TransformerEmbeddings.Weights;
using static TorchSharp.torch;

namespace TransformerEmbeddings.SentenceTransformers;

/// <summary>
/// sentence-transformers' <c>Dense</c>: activation(linear(x)), from <c>config.json</c> and <c>model.safetensors</c>
/// (<c>linear.weight</c>, <c>linear.bias</c>), loaded like the encoder: through the checkpoint loader, by module path.
/// It runs in float32 on libtorch after pooling, as sentence-transformers does.
/// </summary>
internal sealed class DenseModule : nn.Module<Tensor, Tensor>
{
    private readonly Dense linear;
    private readonly Func<Tensor, Tensor> activation;

    private DenseModule(WeightPath w, int inFeatures, int outFeatures, bool hasBias, Func<Tensor, Tensor> activation) : base("Dense")
    {
        linear = new Dense(w["linear"], inFeatures, outFeatures, hasBias);
        this.activation = activation;
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        RegisterComponents();
    }

    public int InFeatures { get; }

    public int OutFeatures { get; }

    public static DenseModule Load(string folder, Device device)
    {
        var configPath = Path.Combine(folder, "config.json");
        using var doc = SentenceTransformersFolder.Parse(configPath);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new ModelConfigurationException(configPath, null, $"Expected a JSON object; found {root.ValueKind}.");
        var inF = SentenceTransformersFolder.Int(root, "in_features", configPath)
                  ?? throw new ModelConfigurationException(configPath, "in_features", "Missing.");
        var outF = SentenceTransformersFolder.Int(root, "out_features", configPath)
                   ?? throw new ModelConfigurationException(configPath, "out_features", "Missing.");
        if (inF <= 0) throw new ModelConfigurationException(configPath, "in_features", $"Must be positive; found {inF}.");
        if (outF <= 0) throw new ModelConfigurationException(configPath, "out_features", $"Must be positive; found {outF}.");
        var hasBias = SentenceTransformersFolder.Bool(root, "bias", configPath) ?? true;
        var actName = SentenceTransformersFolder.String(root, "activation_function", configPath) ?? "torch.nn.modules.activation.Tanh";
        Func<Tensor, Tensor> act = actName switch
        {
            "torch.nn.modules.activation.Tanh" or "torch.nn.Tanh" => x => x.tanh(),
            "torch.nn.modules.linear.Identity" or "torch.nn.Identity" => x => x,
            "torch.nn.modules.activation.ReLU" or "torch.nn.ReLU" => x => nn.functional.relu(x),
            "torch.nn.modules.activation.Sigmoid" or "torch.nn.Sigmoid" => x => x.sigmoid(),
            "torch.nn.modules.activation.GELU" or "torch.nn.GELU" => x => nn.functional.gelu(x),
            _ => throw new ModelConfigurationException(configPath, "activation_function",
                $"Activation '{actName}' is not supported; supported: torch.nn.modules.activation.Tanh, ReLU, Sigmoid, GELU, torch.nn.modules.linear.Identity."),
        };

        using var loader = CheckpointLoader.Open(folder, ScalarType.Float32, device, architecture: null);
        using (no_grad())
        {
            var module = new DenseModule(new WeightPath(loader), inF, outF, hasBias, act);
            module.eval();
            return module;
        }
    }

    /// <summary>(B, in) → (B, out); call inside a dispose scope.</summary>
    public override Tensor forward(Tensor x) => activation(linear.call(x));
}

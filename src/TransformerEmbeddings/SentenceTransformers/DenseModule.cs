using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Weights;
using static TorchSharp.torch;

namespace TransformerEmbeddings.SentenceTransformers;

/// <summary>sentence-transformers' <c>Dense</c>: activation(linear(x)), from <c>config.json</c> and <c>model.safetensors</c>.</summary>
internal sealed class DenseModule : IDisposable
{
    private readonly Tensor weight;
    private readonly Tensor? bias;
    private readonly Func<Tensor, Tensor> activation;

    private DenseModule(Tensor weight, Tensor? bias, Func<Tensor, Tensor> activation, int inFeatures, int outFeatures, string activationName)
    {
        this.weight = weight;
        this.bias = bias;
        this.activation = activation;
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        ActivationName = activationName;
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public string ActivationName { get; }

    public static DenseModule Load(string folder, Device device)
    {
        var configPath = Path.Combine(folder, "config.json");
        using var doc = SentenceTransformersFolder.Parse(configPath);
        var root = doc.RootElement;
        var inF = SentenceTransformersFolder.Int(root, "in_features", configPath)
                  ?? throw new ModelConfigurationException(configPath, "in_features", "Missing.");
        var outF = SentenceTransformersFolder.Int(root, "out_features", configPath)
                   ?? throw new ModelConfigurationException(configPath, "out_features", "Missing.");
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

        var weightsPath = Path.Combine(folder, "model.safetensors");
        if (!File.Exists(weightsPath))
        {
            var bin = Path.Combine(folder, "pytorch_model.bin");
            throw new ModelConfigurationException(File.Exists(bin) ? bin : weightsPath, null, File.Exists(bin)
                ? "Dense weights in pytorch_model.bin (pickle) cannot be read; convert them to model.safetensors."
                : "The Dense module's model.safetensors is missing.");
        }
        using var file = SafeTensorsFile.Open(weightsPath);
        var w = Read(file, weightsPath, "linear.weight", [outF, inF]);
        var b = hasBias ? Read(file, weightsPath, "linear.bias", [outF]) : null;
        using var scope = NewDisposeScope();
        var wt = tensor(w, [outF, inF]).to(device);
        var bt = b is null ? null : tensor(b, [outF]).to(device);
        scope.Detach(bt is null ? [wt] : [wt, bt]);
        return new DenseModule(wt, bt, act, inF, outF, actName);
    }

    private static float[] Read(SafeTensorsFile file, string path, string name, long[] shape)
    {
        if (!file.TryGetTensor(name, out var info))
            throw new ModelConfigurationException(path, name, $"The tensor '{name}' is missing.");
        if (!info.Shape.SequenceEqual(shape))
            throw new ModelConfigurationException(path, name, $"Expected shape [{string.Join(", ", shape)}]; found [{string.Join(", ", info.Shape)}].");
        return file.ReadFloat32(name);
    }

    /// <summary>(B, in) → (B, out); call inside a dispose scope.</summary>
    public Tensor Forward(Tensor x) => activation(nn.functional.linear(x, weight, bias));

    public void Dispose()
    {
        weight.Dispose();
        bias?.Dispose();
    }
}

using Microsoft.Extensions.Logging;
using TransformerEmbeddings.Hub;
using TransformerEmbeddings.Runtime;

namespace TransformerEmbeddings;

/// <summary>How to load a model folder or a HuggingFace model id.</summary>
public sealed record ModelOptions
{
    /// <summary><c>cpu</c> (default), <c>cuda</c> or <c>cuda:N</c>.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>The numeric type of weights and activations; <see cref="Precision.Float32"/> is exact.</summary>
    public Precision Precision { get; init; } = Precision.Float32;

    /// <summary>A token limit that overrides the tokenizer's default (model_max_length and the position table).</summary>
    public int? MaxLength { get; init; }

    /// <summary>The CPU features the kernels and the fast mode are chosen by; this machine's when null (tests force a path with it).</summary>
    internal CpuFeatures? Cpu { get; init; }

    /// <summary>Forces the instruction set of the library's CPU kernels (<see cref="Kernels.InstructionSet.None"/>: libtorch only); by <see cref="Cpu"/> when null.</summary>
    internal Kernels.InstructionSet? Kernels { get; init; }

    /// <summary>For a model id: revision, offline mode, cache, endpoint, token, download progress (docs/hub.md); the environment's when null.</summary>
    public HubOptions? Hub { get; init; }

    /// <summary>Where load reports go (unused tensors, legacy names, timings); nothing is logged when null.</summary>
    public ILogger? Logger { get; init; }
}

using static TorchSharp.torch;

namespace TransformerEmbeddings.Runtime;

/// <summary>Turns a device name (<c>cpu</c>, <c>cuda</c>, <c>cuda:1</c>) into a TorchSharp device, checking it exists.</summary>
internal static class ComputeDevice
{
    /// <summary>Whether a device name means the CPU (known without libtorch).</summary>
    public static bool IsCpu(string? name) => string.IsNullOrWhiteSpace(name) || name.Trim().Equals("cpu", StringComparison.OrdinalIgnoreCase);

    /// <summary>Resolves a device name.</summary>
    /// <param name="name"><c>cpu</c> (default), <c>cuda</c> or <c>cuda:N</c>.</param>
    /// <returns>The device.</returns>
    /// <exception cref="DeviceUnavailableException">CUDA was asked for and is not available, or the name is unknown.</exception>
    public static Device Resolve(string? name)
    {
        NativeRuntime.EnsureLoaded();
        var n = string.IsNullOrWhiteSpace(name) ? "cpu" : name.Trim().ToLowerInvariant();
        if (n == "cpu") return CPU;
        if (n == "cuda" || n.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!cuda.is_available())
                throw new DeviceUnavailableException(
                    $"Device '{name}' was asked for but CUDA is not available: reference 'TorchSharp-cuda-linux' or 'TorchSharp-cuda-windows' " +
                    "instead of 'TorchSharp-cpu', install an NVIDIA driver, or use the CPU.");
            var index = n.Length > 5 && int.TryParse(n.AsSpan(5), out var i) ? i : 0;
            if (index < 0 || index >= cuda.device_count())
                throw new DeviceUnavailableException($"Device '{name}' does not exist; this machine has {cuda.device_count()} CUDA device(s).");
            return new Device(TorchSharp.DeviceType.CUDA, index);
        }
        throw new DeviceUnavailableException($"Unknown device '{name}'; use 'cpu', 'cuda' or 'cuda:N'.");
    }
}

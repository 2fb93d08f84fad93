using TransformerEmbeddings.Runtime;
using TransformerEmbeddings.Weights;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Infrastructure;

/// <summary>Reads a golden safetensors file (../shared/golden, or a committed fixture) into CPU tensors (float32 / int64), by name.</summary>
public sealed class GoldenTensors : IDisposable
{
    private readonly Dictionary<string, Tensor> tensors = new(StringComparer.Ordinal);

    public GoldenTensors(string model) : this(new FileInfo(SharedData.GoldenFile(model + ".safetensors")))
    {
    }

    /// <summary>A golden file by path; a <c>.safetensors.gz</c> (the committed fixtures) is decompressed to a temporary file first.</summary>
    private GoldenTensors(FileInfo golden)
    {
        NativeRuntime.EnsureLoaded();
        var path = golden.FullName;
        Path = path;
        if (!path.EndsWith(".gz", StringComparison.Ordinal))
        {
            Read(path);
            return;
        }
        var temp = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "te-golden-" + Guid.NewGuid().ToString("N") + ".safetensors");
        try
        {
            using (var source = new System.IO.Compression.GZipStream(File.OpenRead(path), System.IO.Compression.CompressionMode.Decompress))
            using (var target = File.Create(temp))
                source.CopyTo(target);
            Read(temp);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>A golden file by path (<c>.safetensors</c> or <c>.safetensors.gz</c>).</summary>
    public static GoldenTensors FromFile(string path) => new(new FileInfo(path));

    private void Read(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        foreach (var info in file.Tensors)
        {
            var type = info.DType switch
            {
                SafeTensorsDType.F32 => ScalarType.Float32,
                SafeTensorsDType.I64 => ScalarType.Int64,
                SafeTensorsDType.F64 => ScalarType.Float64,
                _ => throw new InvalidDataException($"{Path}: unexpected dtype {info.DType} for {info.Name}"),
            };
            var t = empty(info.Shape.ToArray(), type);
            if (info.ByteLength > 0) t.bytes = file.GetBytes(info.Name).ToArray();
            tensors[info.Name] = t.DetachFromDisposeScope();
        }
    }

    public string Path { get; }

    public IReadOnlyCollection<string> Names => tensors.Keys;

    public bool Has(string name) => tensors.ContainsKey(name);

    public Tensor this[string name] => tensors.TryGetValue(name, out var t)
        ? t
        : throw new KeyNotFoundException($"{Path} has no tensor '{name}'.");

    public static IReadOnlyList<IReadOnlyList<int>> Rows(Tensor ids) =>
        Enumerable.Range(0, (int)ids.shape[0])
            .Select(i => (IReadOnlyList<int>)ids[i].data<long>().Select(v => (int)v).ToArray())
            .ToList();

    /// <summary>Rows of ids with padding removed, by the attention mask.</summary>
    public static IReadOnlyList<IReadOnlyList<int>> RealRows(Tensor ids, Tensor mask)
    {
        var rows = Rows(ids);
        var m = Rows(mask);
        return rows.Select((r, i) => (IReadOnlyList<int>)r.Take(m[i].Sum()).ToArray()).ToList();
    }

    public void Dispose()
    {
        foreach (var t in tensors.Values) t.Dispose();
    }
}

using System.Collections.Concurrent;

namespace TransformerEmbeddings.Tests.Infrastructure;

/// <summary>Loads each test model once per test run (they are read-only and thread-safe to encode with).</summary>
public static class ModelCache
{
    private static readonly ConcurrentDictionary<string, Lazy<TransformerModel>> Models = new();
    private static readonly ConcurrentDictionary<string, Lazy<GoldenTensors>> Goldens = new();

    public static TransformerModel Get(string name) =>
        Models.GetOrAdd(name, n => new Lazy<TransformerModel>(() => TransformerModel.Load(SharedData.Model(n)))).Value;

    public static GoldenTensors Golden(string name) =>
        Goldens.GetOrAdd(name, n => new Lazy<GoldenTensors>(() => new GoldenTensors(n))).Value;
}

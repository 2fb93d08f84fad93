using System.Collections.Concurrent;
using Xunit;

namespace TransformerEmbeddings.Tests.Infrastructure;

/// <summary>
/// The encoder-family fixtures (Fixtures/Families, made by make_families.py): tiny random DistilBERT, MPNet and
/// XLM-RoBERTa checkpoints as HF folders, their tokenization by HF tokenizers and what the float64 reference of HF's
/// modeling files computes with them, named as ../shared/golden.
/// </summary>
public static class FamilyFixtures
{
    private static readonly ConcurrentDictionary<string, Lazy<TransformerModel>> Models = new();
    private static readonly ConcurrentDictionary<string, Lazy<GoldenTensors>> Goldens = new();

    /// <summary>The base model of each family: F32, no key prefix, every internal in its golden file; sentence-transformers folders.</summary>
    public static readonly string[] BaseModels = ["distilbert-tiny", "mpnet-tiny", "xlmr-tiny"];

    /// <summary>The *ForMaskedLM checkpoint of each family: BF16 or F16, with the base model's prefix and the tied head.</summary>
    public static readonly string[] MaskedLanguageModels = ["distilbert-tiny-mlm", "mpnet-tiny-mlm", "xlmr-tiny-mlm"];

    public static readonly string[] All = [.. BaseModels, .. MaskedLanguageModels];

    public static string Folder(string name) => TestFixtures.Path("Families", name);

    public static string TokensFile(string name) => TestFixtures.Path("Families", name + ".tokens.json");

    /// <summary>The model, loaded once per test run.</summary>
    public static TransformerModel Model(string name) =>
        Models.GetOrAdd(name, n => new Lazy<TransformerModel>(() => TransformerModel.Load(Folder(n)))).Value;

    /// <summary>Its golden tensors.</summary>
    public static GoldenTensors Golden(string name) =>
        Goldens.GetOrAdd(name, n => new Lazy<GoldenTensors>(() => GoldenTensors.FromFile(TestFixtures.Path("Families", n + ".safetensors.gz")))).Value;

    public static TheoryData<string> AllModels() => new(All);

    public static TheoryData<string> Bases() => new(BaseModels);

    public static TheoryData<string> WithHeads() => new(MaskedLanguageModels);

    /// <summary>Every (folder, batch prefix): sentences (""), "pairs." and "long.".</summary>
    public static TheoryData<string, string> ModelsAndBatches()
    {
        var data = new TheoryData<string, string>();
        foreach (var m in All)
            foreach (var batch in new[] { "", "pairs.", "long." })
                data.Add(m, batch);
        return data;
    }
}

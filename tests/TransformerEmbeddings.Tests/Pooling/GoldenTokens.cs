using System.Text.Json;
using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Tokenization;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Pooling;

/// <summary>
/// The tokenization HuggingFace produced for the golden inputs (<c>golden/&lt;model&gt;.tokens.json</c>), as
/// <see cref="TokenizedText"/> (through its internal constructor), so word pooling can be tested without the tokenizer.
/// </summary>
public static class GoldenTokens
{
    /// <summary>The tokenized rows of a batch: "" (sentences), "pairs." or "long.".</summary>
    public static IReadOnlyList<TokenizedText> Load(string model, string batch) => LoadFile(SharedData.GoldenFile(model + ".tokens.json"), batch);

    /// <summary>The tokenized rows of a batch of a <c>.tokens.json</c> file.</summary>
    public static IReadOnlyList<TokenizedText> LoadFile(string path, string batch)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = doc.RootElement;
        return batch switch
        {
            "" => root.GetProperty("sentences").EnumerateArray().Select(Row).ToList(),
            "pairs." => root.GetProperty("pairs").EnumerateArray().Select(Row).ToList(),
            "long." => [Row(root.GetProperty("long"))],
            _ => throw new ArgumentException(batch),
        };
    }

    /// <summary>The golden texts of the sentences batch (inputs.json; <c>{mask}</c> is left as is).</summary>
    public static IReadOnlyList<string> Sentences()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(SharedData.GoldenFile("inputs.json")));
        return doc.RootElement.GetProperty("sentences").EnumerateArray().Select(e => e.GetString()!).ToList();
    }

    /// <summary>A padded batch carrying the golden tokenization.</summary>
    public static EncoderInputs Inputs(TransformerModel model, string name, string batch) =>
        EncoderInputs.Create(Load(name, batch), model.Tokenizer.PadTokenId);

    /// <summary>A padded batch from the golden ids (no tokenization).</summary>
    public static EncoderInputs IdInputs(TransformerModel model, GoldenTensors golden, string batch)
    {
        var mask = golden[batch + "attention_mask"];
        return EncoderInputs.Create(GoldenTensors.RealRows(golden[batch + "input_ids"], mask), model.Tokenizer.PadTokenId,
            GoldenTensors.RealRows(golden[batch + "token_type_ids"], mask));
    }

    private static TokenizedText Row(JsonElement e)
    {
        int[] Ints(string k) => e.GetProperty(k).EnumerateArray().Select(v => v.GetInt32()).ToArray();
        int?[] NullableInts(string k) => e.GetProperty(k).EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Null ? (int?)null : v.GetInt32()).ToArray();
        var offsets = e.GetProperty("offsets").EnumerateArray().Select(o => new TokenOffset(o[0].GetInt32(), o[1].GetInt32())).ToArray();
        var tokens = e.GetProperty("tokens").EnumerateArray().Select(v => v.GetString()!).ToArray();
        return new TokenizedText(Ints("ids"), tokens, offsets, NullableInts("word_ids"), NullableInts("sequence_ids"),
            Ints("type_ids"), Ints("special_tokens_mask"), 0);
    }

    /// <summary>Rows of a (B, D) golden tensor as arrays.</summary>
    public static float[] Row(Tensor t, int i) => t[i].to(ScalarType.Float32).contiguous().data<float>().ToArray();
}

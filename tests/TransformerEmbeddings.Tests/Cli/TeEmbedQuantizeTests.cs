using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using TransformerEmbeddings.Analysis;
using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Weights;
using Xunit;

namespace TransformerEmbeddings.Tests.Cli;

/// <summary><c>te embed --quantize</c>: the rows are the library's quantization of the float rows, in every output format.</summary>
public sealed class TeEmbedQuantizeTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("te-quantize-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    private string Texts()
    {
        var path = Path.Combine(temp, "texts.txt");
        File.WriteAllLines(path, StsBenchmark.Dev().Take(12).Select(p => p.A));
        return path;
    }

    private Embeddings FloatRows(string texts)
    {
        var output = Path.Combine(temp, "float.npy");
        var (code, error) = TeRunner.Run("embed", "--model", SharedData.Model("all-MiniLM-L6-v2"), "--input", texts, "--output", output, "--progress", "None");
        Assert.True(code == 0, error);
        var bytes = File.ReadAllBytes(output)[128..];
        var values = MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        return new Embeddings(values, values.Length / 384, 384);
    }

    [Fact]
    public void Int8_npy_rows_are_the_float_rows_quantized_with_ranges_from_the_first_texts()
    {
        var texts = Texts();
        var floats = FloatRows(texts);
        var output = Path.Combine(temp, "int8.npy");
        var (code, error) = TeRunner.Run("embed", "--model", SharedData.Model("all-MiniLM-L6-v2"), "--input", texts, "--output", output,
            "--quantize", "int8", "--calibration", "5", "--progress", "None");
        Assert.True(code == 0, error);
        var first = new Embeddings(floats.Values[..(5 * 384)].ToArray(), 5, 384);
        var expected = new EmbeddingQuantizer(QuantizationPrecision.Int8, QuantizationRanges.Calibrate(first)).Quantize(floats);
        var file = File.ReadAllBytes(output);
        Assert.Contains("'descr': '|i1', 'fortran_order': False, 'shape': (12, 384)", System.Text.Encoding.ASCII.GetString(file, 0, 128));
        Assert.Equal(expected.Bytes.ToArray(), file[128..]);
    }

    [Fact]
    public void Ubinary_safetensors_and_binary_jsonl_hold_the_packed_bits_and_how_to_read_them()
    {
        var texts = Texts();
        var floats = FloatRows(texts);
        var output = Path.Combine(temp, "bits.safetensors");
        var (code, error) = TeRunner.Run("embed", "--model", SharedData.Model("all-MiniLM-L6-v2"), "--input", texts, "--output", output, "--quantize", "ubinary", "--progress", "None");
        Assert.True(code == 0, error);
        var expected = new EmbeddingQuantizer(QuantizationPrecision.UBinary).Quantize(floats);
        using (var file = SafeTensorsFile.Open(output))
        {
            var info = file.GetTensor("embeddings");
            Assert.Equal(SafeTensorsDType.U8, info.DType);
            Assert.Equal(new long[] { 12, 48 }, info.Shape);
            Assert.Equal(expected.Bytes.ToArray(), file.GetBytes(info).ToArray());
            Assert.Equal("ubinary", JsonNode.Parse(file.Metadata["quantization"])!["precision"]!.GetValue<string>());
        }

        var lines = Path.Combine(temp, "bits.jsonl");
        (code, error) = TeRunner.Run("embed", "--model", SharedData.Model("all-MiniLM-L6-v2"), "--input", texts, "--output", lines, "--quantize", "binary", "--progress", "None");
        Assert.True(code == 0, error);
        var signed = new EmbeddingQuantizer(QuantizationPrecision.Binary).Quantize(floats);
        var rows = File.ReadAllLines(lines).Select(l => JsonNode.Parse(l)!["embedding"]!.AsArray().Select(v => (sbyte)v!.GetValue<int>())).ToList();
        Assert.Equal(signed.Bytes.ToArray().Select(b => (sbyte)b), rows.SelectMany(r => r));
        Assert.Equal(1, TeRunner.Run("embed", "--model", SharedData.Model("all-MiniLM-L6-v2"), "--input", texts, "--output", lines, "--quantize", "int4").ExitCode);
    }
}

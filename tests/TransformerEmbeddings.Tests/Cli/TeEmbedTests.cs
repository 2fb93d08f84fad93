using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Cli;

/// <summary><c>te embed</c>: the README's main job, against sentence-transformers' own output.</summary>
public sealed class TeEmbedTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("te-embed-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    internal static (long Rows, int Columns, float[] Data) ReadNpy(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(0x93, bytes[0]);
        Assert.Equal("NUMPY", Encoding.ASCII.GetString(bytes, 1, 5));
        var headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
        Assert.Equal(0, (10 + headerLength) % 64);
        var header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        Assert.Contains("'descr': '<f4'", header);
        var shape = header[(header.IndexOf("'shape': (", StringComparison.Ordinal) + 10)..];
        var dims = shape[..shape.IndexOf(')')].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
        var data = new float[(bytes.Length - 10 - headerLength) / 4];
        Buffer.BlockCopy(bytes, 10 + headerLength, data, 0, data.Length * 4);
        return (dims[0], (int)dims[1], data);
    }

    [Fact]
    public void Embed_with_the_sentence_transformers_folder_equals_st_embeddings()
    {
        var m = ModelCache.Get("all-MiniLM-L6-v2");
        var (sentences, _, longText) = GoldenInputs.For(m);
        var input = Path.Combine(temp, "texts.jsonl");
        File.WriteAllLines(input, sentences.Append(longText).Select(t => JsonSerializer.Serialize(t)));
        var output = Path.Combine(temp, "out.npy");

        var (code, error) = TeRunner.Run("embed", "--model", SharedData.Model("all-MiniLM-L6-v2"), "--input", input, "--output", output, "--batch-size", "5");
        Assert.True(code == 0, error);

        var (rows, columns, data) = ReadNpy(output);
        var expected = ModelCache.Golden("all-MiniLM-L6-v2")["st.embeddings"];
        Assert.Equal(expected.shape, new[] { rows, columns });
        var flat = expected.data<float>().ToArray();
        var worst = flat.Zip(data).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(worst <= 1e-5, $"max abs difference to st.embeddings {worst:E2}");
    }

    [Fact]
    public void Precision_fast_gives_vectors_within_cosine_0_999_of_exact()
    {
        var input = Path.Combine(temp, "texts.txt");
        string[] lines = ["The fast mode trades a little exactness for speed.", "Naïve café, $5 and £3.", "short"];
        File.WriteAllLines(input, lines);
        var exactPath = Path.Combine(temp, "exact.npy");
        var fastPath = Path.Combine(temp, "fast.npy");
        var model = SharedData.Model("all-MiniLM-L6-v2");
        var (code, error) = TeRunner.Run("embed", "--model", model, "--input", input, "--output", exactPath);
        Assert.True(code == 0, error);
        (code, error) = TeRunner.Run("embed", "--model", model, "--input", input, "--output", fastPath, "--precision", "fast");
        Assert.True(code == 0, error);
        var (rows, columns, exact) = ReadNpy(exactPath);
        var (_, _, fast) = ReadNpy(fastPath);
        for (var i = 0; i < rows; i++)
        {
            double dot = 0;
            for (var j = 0; j < columns; j++) dot += (double)exact[i * columns + j] * fast[i * columns + j];
            Assert.InRange(dot, 0.999, 1 + 1e-6); // normalised vectors: the cosine (the path depends on the CPU; tests/Modeling/PrecisionTests force each)
        }

        (code, error) = TeRunner.Run("embed", "--model", model, "--input", input, "--output", fastPath, "--precision", "int3");
        Assert.NotEqual(0, code);
        Assert.Contains("int3", error);
    }

    [Fact]
    public void Plain_text_lines_give_one_vector_per_line_in_order()
    {
        var input = Path.Combine(temp, "texts.txt");
        string[] lines = ["short", "a much longer line of text that sorts first in its batch", "", "middle length line"];
        File.WriteAllLines(input, lines);
        var output = Path.Combine(temp, "out.npy");
        var (code, error) = TeRunner.Run("embed", "--model", SharedData.Model("bert-tiny-uncased"), "--input", input, "--output", output, "--pooling", "cls", "--batch-size", "2");
        Assert.True(code == 0, error);
        var (rows, columns, data) = ReadNpy(output);
        Assert.Equal(lines.Length, rows);

        var m = ModelCache.Get("bert-tiny-uncased");
        for (var i = 0; i < lines.Length; i++)
        {
            using var single = m.Encode([lines[i]]);
            var cls = single.Tokens().Cls();   // not normalised: a plain folder gets what SentenceTransformer(folder) gives
            var row = data.AsSpan(i * columns, columns).ToArray();
            Assert.True(cls.RowArray(0).Zip(row).All(p => Math.Abs(p.First - p.Second) < 1e-5), $"row {i} differs");
        }
    }

    [Fact]
    public void Layer_ranges_and_errors()
    {
        var input = Path.Combine(temp, "texts.txt");
        File.WriteAllLines(input, ["one", "two"]);
        var output = Path.Combine(temp, "out.npy");
        var (code, error) = TeRunner.Run("embed", "--model", SharedData.Model("roberta-tiny"), "--input", input, "--output", output, "--hidden-states", "-2..-1", "--pooling", "mean");
        Assert.True(code == 0, error);
        Assert.Equal(2, ReadNpy(output).Rows);

        File.Delete(output);
        (code, error) = TeRunner.Run("embed", "--model", SharedData.Model("roberta-tiny"), "--input", input, "--output", output, "--pooling", "median");
        Assert.NotEqual(0, code);
        Assert.Contains("median", error);
        Assert.False(File.Exists(output));
    }
}

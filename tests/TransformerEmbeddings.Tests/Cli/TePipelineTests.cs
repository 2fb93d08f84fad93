using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.SentenceTransformers;
using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Tests.Pipelines;
using TransformerEmbeddings.Weights;
using Xunit;

namespace TransformerEmbeddings.Tests.Cli;

/// <summary><c>te embed</c> for big jobs: standard input and output, every output format, shards, resume after SIGKILL, exit codes.</summary>
public sealed class TePipelineTests : IDisposable
{
    private const string Tiny = "bert-tiny-uncased";
    private readonly string temp = Directory.CreateTempSubdirectory("te-pipe-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    private string File_(string name) => Path.Combine(temp, name);

    /// <summary>The STS dev sentences, cycled to <paramref name="count"/>.</summary>
    private static List<string> Sentences(int count)
    {
        var all = StsBenchmark.Dev().SelectMany(p => new[] { p.A, p.B }).ToArray();
        return Enumerable.Range(0, count).Select(i => all[i % all.Length]).ToList();
    }

    private string JsonLinesInput(IReadOnlyList<string> texts, string name = "in.jsonl")
    {
        var path = File_(name);
        File.WriteAllLines(path, texts.Select((t, i) => JsonSerializer.Serialize(new { id = $"doc-{i}", text = t })));
        return path;
    }

    internal static List<(JsonElement Id, float[] Vector)> ReadJsonLines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            using var doc = JsonDocument.Parse(line);
            return (doc.RootElement.GetProperty("id").Clone(), doc.RootElement.GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray());
        }).ToList();

    private static (float[] Data, int Rows, int Columns, string? Ids) ReadSafeTensors(string path)
    {
        using var file = SafeTensorsFile.Open(path); // the strict reader: offsets, sizes, header
        var info = file.GetTensor("embeddings");
        Assert.Equal(SafeTensorsDType.F32, info.DType);
        Assert.Single(file.Tensors);
        return (file.ReadFloat32("embeddings"), (int)info.Shape[0], (int)info.Shape[1], file.Metadata.TryGetValue("ids", out var ids) ? ids : null);
    }

    [Fact]
    public void Standard_input_to_standard_output_as_json_lines()
    {
        var texts = Sentences(40);
        var (code, output, error) = TeProcess.Run(string.Join('\n', texts) + "\n",
            "embed", "--model", SharedData.Model(Tiny), "--input", "-", "--output", "-");
        Assert.True(code == 0, error);
        var rows = ReadJsonLines(output); // stdout holds nothing but the rows
        Assert.Equal(texts.Count, rows.Count);

        using var embedder = SentenceEmbedder.Load(SharedData.Model(Tiny));
        var expected = embedder.Embed(texts);
        for (var i = 0; i < rows.Count; i++)
        {
            Assert.Equal(i, rows[i].Id.GetInt64());
            Assert.Equal(expected.RowArray(i), rows[i].Vector); // shortest round-trip floats: the same bits
        }
    }

    [Fact]
    public void A_te_process_has_written_and_said_everything_when_it_exits()
    {
        // te leaves without libtorch's teardown (StartUp.Exit): whatever it wrote must be complete and flushed by then.
        var texts = Sentences(70);
        var input = File_("in.txt");
        File.WriteAllLines(input, texts);
        using var embedder = SentenceEmbedder.Load(SharedData.Model(Tiny));
        var expected = embedder.Embed(texts);
        foreach (var name in new[] { "p.npy", "p.safetensors", "p.jsonl" })
        {
            var (code, _, error) = TeProcess.Run(null, "embed", "--model", SharedData.Model(Tiny), "--input", input, "--output", File_(name), "--progress", "Plain");
            Assert.True(code == 0, error);
            Assert.Contains($"te: {texts.Count} vectors of {expected.Dimension}", error); // the last line on stderr
            var values = name switch
            {
                "p.npy" => TeEmbedTests.ReadNpy(File_(name)).Data,
                "p.safetensors" => ReadSafeTensors(File_(name)).Data,
                _ => ReadJsonLines(File.ReadAllText(File_(name))).SelectMany(r => r.Vector).ToArray(),
            };
            Assert.Equal(expected.Values.ToArray(), values);
        }
    }

    [Fact]
    public void Every_output_format_reads_back_the_same_vectors_and_ids()
    {
        var texts = StreamingTests.ShuffledLengths(60);
        var input = JsonLinesInput(texts);
        var model = SharedData.Model("all-MiniLM-L6-v2");
        foreach (var name in new[] { "out.npy", "out.safetensors", "out.jsonl" })
        {
            var (code, error) = TeRunner.Run("embed", "--model", model, "--input", input, "--id-field", "id", "--output", File_(name), "--progress", "None");
            Assert.True(code == 0, error);
        }
        var (rows, columns, npy) = TeEmbedTests.ReadNpy(File_("out.npy"));
        var (st, stRows, stColumns, ids) = ReadSafeTensors(File_("out.safetensors"));
        var lines = ReadJsonLines(File.ReadAllText(File_("out.jsonl")));
        Assert.Equal((texts.Count, 384), ((int)rows, columns));
        Assert.Equal((texts.Count, 384), (stRows, stColumns));
        Assert.Equal(npy, st);
        var idList = JsonSerializer.Deserialize<string[]>(ids!)!;
        Assert.Equal(texts.Select((_, i) => $"doc-{i}"), idList);
        Assert.Equal(idList, lines.Select(l => l.Id.GetString()));
        Assert.Equal(npy, lines.SelectMany(l => l.Vector).ToArray());

        using var embedder = SentenceEmbedder.Load(model);
        var expected = embedder.Embed(texts);
        Assert.Equal(expected.Values.ToArray(), npy);

        // A .json array of objects and a plain-text file give the same vectors.
        File.WriteAllText(File_("in.json"), JsonSerializer.Serialize(texts.Select(t => new { text = t })));
        var (c2, e2) = TeRunner.Run("embed", "--model", model, "--input", File_("in.json"), "--output", File_("json.npy"), "--progress", "None");
        Assert.True(c2 == 0, e2);
        Assert.Equal(npy, TeEmbedTests.ReadNpy(File_("json.npy")).Data);
        File.WriteAllLines(File_("in.txt"), texts);
        (c2, e2) = TeRunner.Run("embed", "--model", model, "--input", File_("in.txt"), "--output", File_("txt.safetensors"), "--progress", "None");
        Assert.True(c2 == 0, e2);
        var plain = ReadSafeTensors(File_("txt.safetensors"));
        Assert.Equal(npy, plain.Data);
        Assert.Null(plain.Ids);
    }

    [Fact]
    public void Shards_interleaved_equal_the_whole_run()
    {
        var texts = StreamingTests.ShuffledLengths(80, seed: 21);
        File.WriteAllLines(File_("in.txt"), texts);
        var model = SharedData.Model(Tiny);
        var (code, error) = TeRunner.Run("embed", "--model", model, "--input", File_("in.txt"), "--output", File_("whole.jsonl"), "--batch-size", "8");
        Assert.True(code == 0, error);
        var whole = ReadJsonLines(File.ReadAllText(File_("whole.jsonl")));
        var merged = new List<(long Id, float[] Vector)>();
        for (var shard = 0; shard < 3; shard++)
        {
            var output = File_($"shard{shard}.jsonl");
            (code, error) = TeRunner.Run("embed", "--model", model, "--input", File_("in.txt"), "--output", output, "--shard", $"{shard}/3", "--batch-size", "8");
            Assert.True(code == 0, error);
            var rows = ReadJsonLines(File.ReadAllText(output));
            Assert.Equal(Enumerable.Range(0, texts.Count).Where(i => i % 3 == shard).Select(i => (long)i), rows.Select(r => r.Id.GetInt64()));
            merged.AddRange(rows.Select(r => (r.Id.GetInt64(), r.Vector)));
        }
        merged.Sort((a, b) => a.Id.CompareTo(b.Id));
        Assert.Equal(whole.Count, merged.Count);
        for (var i = 0; i < whole.Count; i++)
        {
            Assert.Equal(whole[i].Id.GetInt64(), merged[i].Id);
            StreamingTests.AssertClose(whole[i].Vector, merged[i].Vector, 1e-5, $"row {i}"); // other batch companions: float noise only
        }
    }

    [Theory]
    [InlineData("out.npy")]
    [InlineData("out.safetensors")]
    [InlineData("out.jsonl")]
    public void A_run_killed_with_SIGKILL_resumes_to_the_same_bytes_without_redoing_finished_rows(string name)
    {
        var texts = Sentences(12_000);
        var input = JsonLinesInput(texts);
        var model = SharedData.Model(Tiny);
        string[] common = ["embed", "--model", model, "--input", input, "--id-field", "id"];
        var reference = File_("reference" + Path.GetExtension(name));
        var (code, error) = TeRunner.Run([.. common, "--output", reference]);
        Assert.True(code == 0, error);

        var output = File_(name);
        var partial = Path.Combine(temp, "." + name + ".partial");
        using (var child = Process.Start(TeProcess.StartInfo([.. common, "--output", output]))!)
        {
            child.StandardInput.Close();
            var clock = Stopwatch.StartNew();
            // Kill it once some rows are on disk (the .npy placeholder header alone is 128 bytes) and, where the ids live in
            // their own file, once a checkpoint has made them durable too: rows without their ids are redone, by design.
            var ids = partial + ".ids";
            bool Durable() => File.Exists(partial) && new FileInfo(partial).Length >= 64 * 1024
                              && (name.EndsWith(".jsonl", StringComparison.Ordinal) || name.EndsWith(".npy", StringComparison.Ordinal)
                                  || (File.Exists(ids) && new FileInfo(ids).Length > 0));
            while (!child.HasExited && !Durable() && clock.Elapsed < TimeSpan.FromMinutes(3))
                Thread.Sleep(5);
            if (child.HasExited) Assert.Fail($"te finished before it could be killed: {child.StandardError.ReadToEnd()}");
            child.Kill(); // SIGKILL on Linux: no handler runs
            child.WaitForExit();
        }
        Assert.False(File.Exists(output), "a killed run must not leave a file under the final name");
        Assert.True(File.Exists(partial));

        (code, error) = TeRunner.Run([.. common, "--output", output, "--resume"]);
        Assert.True(code == 0, error);
        Assert.Equal(File.ReadAllBytes(reference), File.ReadAllBytes(output));
        Assert.False(File.Exists(partial));
        // The summary counts the texts this run embedded: fewer than all of them.
        var done = long.Parse(Regex.Match(error, @"\(([\d,]+) texts").Groups[1].Value.Replace(",", ""));
        Assert.InRange(done, 1, texts.Count - 1);
    }

    [Fact]
    public void Resume_continues_a_failed_run_and_refuses_other_settings()
    {
        // The first sort window (2048 texts) is embedded and written before the broken line is read.
        var texts = Sentences(3000);
        var good = texts.Select((t, i) => JsonSerializer.Serialize(new { id = i, text = t })).ToArray();
        var broken = good.ToArray();
        broken[2500] = "{not json";
        var input = File_("in.jsonl");
        File.WriteAllLines(input, broken);
        var model = SharedData.Model(Tiny);
        var output = File_("out.safetensors");
        string[] common = ["embed", "--model", model, "--input", input, "--id-field", "id", "--output", output, "--batch-size", "4"];

        var (code, error) = TeRunner.Run([.. common, "--resume"]);
        Assert.Equal(1, code);
        Assert.Contains("in.jsonl:2501", error);
        Assert.False(File.Exists(output));
        var kept = new FileInfo(Path.Combine(temp, ".out.safetensors.partial")).Length;
        Assert.True(kept == 2048L * 64 * 4, $"the first window (2048 rows of 64 floats) is kept: {kept} bytes");

        (code, error) = TeRunner.Run([.. common.Take(common.Length - 1), "8", "--resume"]);
        Assert.Equal(1, code);
        Assert.Contains("other settings", error);

        File.WriteAllLines(input, good);
        (code, error) = TeRunner.Run([.. common, "--resume"]);
        Assert.True(code == 0, error);
        Assert.Contains("(952 texts", error); // 3000 - 2048 embedded by this run
        var resumed = File.ReadAllBytes(output);
        (code, error) = TeRunner.Run([.. common]);
        Assert.True(code == 0, error);
        Assert.Equal(File.ReadAllBytes(output), resumed);
    }

    [Fact]
    public void Max_length_is_honoured_for_sentence_transformers_folders()
    {
        var model = SharedData.Model("all-MiniLM-L6-v2");
        var text = string.Join(' ', Sentences(4));
        File.WriteAllLines(File_("in.txt"), [text]);
        var (code, error) = TeRunner.Run("embed", "--model", model, "--input", File_("in.txt"), "--output", File_("short.npy"), "--max-length", "8");
        Assert.True(code == 0, error);
        (code, error) = TeRunner.Run("embed", "--model", model, "--input", File_("in.txt"), "--output", File_("full.npy"));
        Assert.True(code == 0, error);
        var shortRow = TeEmbedTests.ReadNpy(File_("short.npy")).Data;
        using var embedder = SentenceEmbedder.Load(model, new ModelOptions { MaxLength = 8 });
        var expected = embedder.Embed([text]);
        Assert.Equal(expected.RowArray(0), shortRow);
        Assert.NotEqual(TeEmbedTests.ReadNpy(File_("full.npy")).Data, shortRow);
    }

    [Fact]
    public void Exit_codes_say_what_failed_and_no_file_is_left()
    {
        File.WriteAllLines(File_("in.txt"), ["one", string.Join(' ', Sentences(30))]);
        var model = SharedData.Model(Tiny);
        var output = File_("out.npy");
        Assert.Equal(2, TeRunner.Run("embed", "--model", File_("missing-model"), "--input", File_("in.txt"), "--output", output).ExitCode);
        Assert.Equal(1, TeRunner.Run("embed", "--model", model, "--input", File_("missing.txt"), "--output", output).ExitCode);
        Assert.Equal(1, TeRunner.Run("embed", "--model", model, "--input", File_("in.txt"), "--output", File_("out.csv")).ExitCode);
        Assert.Equal(1, TeRunner.Run("embed", "--model", model, "--input", File_("in.txt"), "--output", output, "--shard", "3/2").ExitCode);
        var (code, error) = TeRunner.Run("embed", "--model", model, "--input", File_("in.txt"), "--output", output, "--long-texts", "Refuse", "--max-length", "16");
        Assert.Equal(1, code);
        Assert.Contains("Text 1 has", error);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(temp, ".out.npy*"));
    }
}

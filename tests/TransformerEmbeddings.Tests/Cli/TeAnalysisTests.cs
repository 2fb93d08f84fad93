using System.Text.Json.Nodes;
using System.Xml.Linq;
using SkiaSharp;
using TransformerEmbeddings.Analysis;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Cli;

/// <summary><c>te nearest</c>, <c>te fill-mask</c> and <c>te plot</c>: what they print equals the library's answer, and the pictures decode at the asked size.</summary>
public sealed class TeAnalysisTests : IDisposable
{
    private const string Text = "The bank will not lend money near the river bank.";
    private readonly string temp = Directory.CreateTempSubdirectory("te-analysis-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    [Fact]
    public void Nearest_json_is_the_library_result_and_word_picks_the_first_token_of_the_first_occurrence()
    {
        var model = ModelCache.Get("roberta-tiny");
        var (code, stdout, error) = TeProcess.Run(null, "nearest", "--model", SharedData.Model("roberta-tiny"), "--text", Text, "--word", "bank", "--layer", "-1", "--k", "4", "--json");
        Assert.True(code == 0, error);
        var json = JsonNode.Parse(stdout)!;
        Assert.Equal(1, json["layer"]!.GetValue<int>());
        Assert.Equal(2, json["position"]!.GetValue<int>());                       // <s> The bank: the first "bank"
        using var output = model.Encode([Text], new CaptureOptions { Kinds = ActivationKind.Contexts, Layers = [1] });
        Assert.Equal(output.Tokenization![0].Ids[2], json["token_id"]!.GetValue<int>());
        var expected = new ValueSpace(model, 1).Nearest(output, 0, 2, new NearestOptions { K = 4 });
        var heads = json["heads"]!.AsArray();
        Assert.Equal(model.Config.NumAttentionHeads, heads.Count);
        foreach (var (e, a) in expected.Heads.Zip(heads))
        {
            Assert.Equal(e.Head, a!["head"]!.GetValue<int>());
            foreach (var (metric, n) in new[] { ("cosine", e.Cosine!), ("euclidean", e.Euclidean!) })
            {
                Assert.Equal(n.Tokens.Select(t => t.Id), a[metric]!["ids"]!.AsArray().Select(x => x!.GetValue<int>()));
                Assert.Equal(n.Tokens.Select(t => t.Token), a[metric]!["tokens"]!.AsArray().Select(x => x!.GetValue<string>()));
                Assert.Equal(n.Tokens.Select(t => t.Distance), a[metric]!["distances"]!.AsArray().Select(x => x!.GetValue<double>()));
                Assert.Equal(n.SelfRank, a[metric]!["self_rank"]!.GetValue<int>());
            }
        }
    }

    [Fact]
    public void Nearest_with_one_head_and_metric_prints_only_those_and_a_table_without_json()
    {
        var model = SharedData.Model("bert-tiny-uncased");
        var (code, stdout, error) = TeProcess.Run(null, "nearest", "--model", model, "--text", Text, "--token", "3", "--layer", "0", "--head", "2", "--metric", "euclidean", "--json");
        Assert.True(code == 0, error);
        var head = Assert.Single(JsonNode.Parse(stdout)!["heads"]!.AsArray())!;
        Assert.Equal(2, head["head"]!.GetValue<int>());
        Assert.Null(head["cosine"]);
        Assert.Equal(10, head["euclidean"]!["ids"]!.AsArray().Count);

        (code, stdout, error) = TeProcess.Run(null, "nearest", "--model", model, "--text", Text, "--word", "river", "--layer", "1", "--head", "0", "-k", "3");
        Assert.True(code == 0, error);
        Assert.Contains("river", stdout);
        Assert.Contains("self rank", stdout);

        Assert.Equal(1, TeRunner.Run("nearest", "--model", model, "--text", Text, "--word", "boat", "--layer", "0").ExitCode);
        Assert.Equal(1, TeRunner.Run("nearest", "--model", model, "--text", Text, "--token", "99", "--layer", "0").ExitCode);
        Assert.Equal(1, TeRunner.Run("nearest", "--model", model, "--text", Text, "--token", "1", "--word", "bank", "--layer", "0").ExitCode);
        Assert.Equal(1, TeRunner.Run("nearest", "--model", model, "--text", Text, "--token", "1", "--layer", "5").ExitCode);
    }

    [Fact]
    public void Fill_mask_takes_either_mask_spelling_and_prints_the_pipeline_fields()
    {
        var model = ModelCache.Get("roberta-tiny");
        var text = "The capital of France is [MASK].";                                   // BERT's spelling for a RoBERTa model
        var (code, stdout, error) = TeProcess.Run(null, "fill-mask", "--model", SharedData.Model("roberta-tiny"), "--text", text, "--k", "3", "--json");
        Assert.True(code == 0, error);
        var rows = JsonNode.Parse(stdout)!.AsArray();
        var expected = model.MaskedLanguageModel!.Predict(["The capital of France is <mask>."], 3).Single().Candidates;
        Assert.Equal(expected.Select(c => c.Id), rows.Select(r => r!["token"]!.GetValue<int>()));
        Assert.Equal(expected.Select(c => c.Probability), rows.Select(r => r!["score"]!.GetValue<float>()));
        Assert.All(rows, r => Assert.Equal(model.Tokenizer.Decode([r!["token"]!.GetValue<int>()]), r["token_str"]!.GetValue<string>()));
        Assert.All(rows, r => Assert.StartsWith("The capital of France is", r!["sequence"]!.GetValue<string>()));

        Assert.Equal(1, TeRunner.Run("fill-mask", "--model", SharedData.Model("bert-tiny-uncased"), "--text", text).ExitCode); // no MLM head
        Assert.Equal(1, TeRunner.Run("fill-mask", "--model", SharedData.Model("roberta-tiny"), "--text", "No mask here.").ExitCode);
    }

    [Theory]
    [InlineData("png")]
    [InlineData("svg")]
    public void Plots_are_written_as_pictures_of_the_asked_size(string format)
    {
        var model = SharedData.Model("all-MiniLM-L6-v2");
        var texts = Path.Combine(temp, "texts.txt");
        File.WriteAllLines(texts, ["A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell.", "Shares dropped sharply.", "A cat sleeps on the sofa."]);
        var runs = new (string Name, string[] Args)[]
        {
            ("attention", ["plot", "attention", "--model", model, "--text", Text, "--layer", "-1", "--head", "3"]),
            ("pca", ["plot", "pca", "--model", model, "--input", texts]),
            ("nearest", ["plot", "nearest", "--model", model, "--text", Text, "--word", "bank", "--layer", "0", "--head", "1", "--k", "8"]),
        };
        foreach (var (name, args) in runs)
        {
            var path = Path.Combine(temp, $"{name}.{format}");
            var (code, error) = TeRunner.Run([.. args, "--output", path, "--width", "640", "--height", "480"]);
            Assert.True(code == 0, $"{name}: {error}");
            if (format == "png")
            {
                using var bitmap = SKBitmap.Decode(path);
                Assert.NotNull(bitmap);
                Assert.Equal((640, 480), (bitmap.Width, bitmap.Height));
                Assert.True(Distinct(bitmap) > 10, $"{name}: the picture is nearly blank");
            }
            else
            {
                var svg = XDocument.Load(path).Root!;
                Assert.Equal("svg", svg.Name.LocalName);
                Assert.Equal(("640", "480"), ((string?)svg.Attribute("width"), (string?)svg.Attribute("height")));
            }
            Assert.Empty(Directory.GetFiles(temp, ".*tmp*"));
        }
        Assert.Equal(1, TeRunner.Run("plot", "attention", "--model", model, "--text", Text, "--layer", "0", "--head", "0", "--output", Path.Combine(temp, "a.gif")).ExitCode);
        Assert.Equal(1, TeRunner.Run("plot", "attention", "--model", model, "--text", Text, "--layer", "0", "--head", "99", "--output", Path.Combine(temp, "b.png")).ExitCode);
        Assert.False(File.Exists(Path.Combine(temp, "b.png")));
    }

    private static int Distinct(SKBitmap bitmap)
    {
        var colors = new HashSet<SKColor>();
        for (var y = 0; y < bitmap.Height; y += 7)
            for (var x = 0; x < bitmap.Width; x += 7)
                colors.Add(bitmap.GetPixel(x, y));
        return colors.Count;
    }
}

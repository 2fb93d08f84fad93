using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using TransformerEmbeddings.Tokenization;

namespace TransformerEmbeddings.Benchmarks;

/// <summary>
/// Tokenizer throughput on the 3000 STS-benchmark dev sentences (sentence1 and sentence2 of sts-dev.csv), with the
/// WordPiece tokenizer of bert-tiny-uncased, the byte-level BPE tokenizer of roberta-tiny and the SentencePiece Unigram
/// tokenizer of the xlmr-unigram test fixture (XLM-R layout, tests/TransformerEmbeddings.Tests/Fixtures/Unigram): one thread (a loop of
/// <see cref="TransformerTokenizer.Encode(string, int?)"/>) and all cores (<see cref="TransformerTokenizer.EncodeBatch(IReadOnlyList{string}, int?)"/>).
/// The Tokens/s column divides the tokens of one pass (special tokens included) by the mean time. The HuggingFace
/// tokenizers side of the comparison is benchmarks/hf-tokenizers/bench.mjs (same sentences, same tokenizer.json).
/// Shared data: env TE_SHARED, else ../shared next to the folder holding TransformerEmbeddings.sln.
/// </summary>
[Config(typeof(TokenizationConfig))]
[MemoryDiagnoser]
[WarmupCount(3)]
[IterationCount(15)]
public class TokenizationBenchmarks
{
    private TransformerTokenizer _tokenizer = null!;
    private string[] _sentences = [];

    /// <summary>The test model whose tokenizer runs.</summary>
    [Params("bert-tiny-uncased", "roberta-tiny", "xlmr-unigram")]
    public string Model { get; set; } = "bert-tiny-uncased";

    /// <summary>Loads the sentences and the tokenizer.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _sentences = LoadSentences();
        _tokenizer = TransformerTokenizer.Load(ModelFolder(Model));
    }

    /// <summary>One thread: Encode each sentence in turn.</summary>
    [Benchmark(Baseline = true, Description = "Encode loop (1 thread)")]
    public int EncodeLoop()
    {
        var total = 0;
        foreach (var s in _sentences) total += _tokenizer.Encode(s).Count;
        return total;
    }

    /// <summary>All cores: EncodeBatch over all sentences.</summary>
    [Benchmark(Description = "EncodeBatch (all cores)")]
    public int EncodeBatch()
    {
        var total = 0;
        foreach (var e in _tokenizer.EncodeBatch(_sentences)) total += e.Count;
        return total;
    }

    /// <summary>sentence1 and sentence2 of every line of sts-dev.csv (raw lines split on tabs, columns 5 and 6).</summary>
    public static string[] LoadSentences()
    {
        var path = Path.Combine(SharedFolder(), "data", "stsbenchmark", "sts-dev.csv");
        var result = new List<string>();
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0) continue;
            var cols = line.Split('\t');
            result.Add(cols[5]);
            result.Add(cols[6]);
        }

        return result.ToArray();
    }

    private static readonly ConcurrentDictionary<string, long> TokenCounts = new();

    /// <summary>The tokens one pass over the sentences produces with <paramref name="model"/>'s tokenizer.</summary>
    public static long CountTokens(string model) => TokenCounts.GetOrAdd(model, m =>
    {
        var tokenizer = TransformerTokenizer.Load(ModelFolder(m));
        return LoadSentences().Sum(s => (long)tokenizer.Encode(s).Count);
    });

    /// <summary>A shared test model folder, or the Unigram fixture folder of the tests.</summary>
    public static string ModelFolder(string model) => model == "xlmr-unigram"
        ? Path.Combine(RepositoryRoot(), "tests", "TransformerEmbeddings.Tests", "Fixtures", "Unigram", model)
        : Path.Combine(SharedFolder(), "testmodels", model);

    private static string RepositoryRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "TransformerEmbeddings.sln")))
                    return dir.FullName;
        throw new DirectoryNotFoundException("TransformerEmbeddings.sln not found above the current directory.");
    }

    /// <summary>The shared data folder: env TE_SHARED, else ../shared beside the folder with TransformerEmbeddings.sln.</summary>
    public static string SharedFolder()
    {
        var env = Environment.GetEnvironmentVariable("TE_SHARED");
        if (!string.IsNullOrEmpty(env)) return Path.GetFullPath(env);
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "TransformerEmbeddings.sln")))
                    return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
            }
        }

        throw new DirectoryNotFoundException("TransformerEmbeddings.sln not found above the current directory; set TE_SHARED.");
    }

    private sealed class TokenizationConfig : ManualConfig
    {
        public TokenizationConfig() => AddColumn(new TokensPerSecondColumn());
    }

    /// <summary>Tokens per second: the tokens of one pass over the sentences divided by the mean time of a pass.</summary>
    private sealed class TokensPerSecondColumn : IColumn
    {
        public string Id => nameof(TokensPerSecondColumn);
        public string ColumnName => "Tokens/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Tokens of one pass (special tokens included) / mean time of a pass";
        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var stats = summary[benchmarkCase]?.ResultStatistics;
            if (stats == null) return "NA";
            var model = (string)benchmarkCase.Parameters["Model"];
            return (CountTokens(model) / (stats.Mean / 1e9)).ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}

using System.Text;
using System.Text.Json;
using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Tokenization;
using Xunit;

namespace TransformerEmbeddings.Tests.Tokenization;

/// <summary>One expected encoding from a golden file.</summary>
internal sealed record ExpectedEncoding(int[] Ids, string[] Tokens, int[][] Offsets, int?[] WordIds, int[] TypeIds, int[] SpecialTokensMask, int?[] SequenceIds)
{
    public static ExpectedEncoding From(JsonElement e) => new(
        e.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
        e.GetProperty("tokens").EnumerateArray().Select(x => x.GetString()!).ToArray(),
        e.GetProperty("offsets").EnumerateArray().Select(x => x.EnumerateArray().Select(y => y.GetInt32()).ToArray()).ToArray(),
        e.GetProperty("word_ids").EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Null ? (int?)null : x.GetInt32()).ToArray(),
        e.GetProperty("type_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
        e.GetProperty("special_tokens_mask").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
        e.GetProperty("sequence_ids").EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Null ? (int?)null : x.GetInt32()).ToArray());
}

/// <summary>A parity case: the input, what HF produced, and what we produced.</summary>
internal sealed record ParityCase(string Label, string Text, string? Pair, ExpectedEncoding Expected, TokenizedText Actual);

/// <summary>Field-by-field comparison with a readable report.</summary>
internal static class ParityReport
{
    public static readonly string[] Fields = ["ids", "tokens", "offsets", "word_ids", "type_ids", "special_tokens_mask", "sequence_ids"];

    public static bool FieldEqual(string field, ExpectedEncoding e, TokenizedText a) => field switch
    {
        "ids" => e.Ids.SequenceEqual(a.Ids),
        "tokens" => e.Tokens.SequenceEqual(a.Tokens),
        "offsets" => e.Offsets.Length == a.Offsets.Count && e.Offsets.Select((o, i) => o[0] == a.Offsets[i].Start && o[1] == a.Offsets[i].End).All(x => x),
        "word_ids" => e.WordIds.SequenceEqual(a.WordIds),
        "type_ids" => e.TypeIds.SequenceEqual(a.TypeIds),
        "special_tokens_mask" => e.SpecialTokensMask.SequenceEqual(a.SpecialTokensMask),
        "sequence_ids" => e.SequenceIds.SequenceEqual(a.SequenceIds),
        _ => throw new ArgumentOutOfRangeException(nameof(field)),
    };

    /// <summary>Per field: agreeing count; plus a description of the first mismatch per field.</summary>
    public static (Dictionary<string, int> Agree, int Total, string Report) Compare(string corpus, IReadOnlyList<ParityCase> cases)
    {
        var agree = Fields.ToDictionary(f => f, _ => 0);
        var sb = new StringBuilder();
        var firsts = new Dictionary<string, ParityCase>();
        foreach (var c in cases)
        {
            foreach (var f in Fields)
            {
                if (FieldEqual(f, c.Expected, c.Actual)) agree[f]++;
                else firsts.TryAdd(f, c);
            }
        }

        sb.AppendLine($"{corpus}: {cases.Count} inputs; agreement per field: " +
                      string.Join(", ", Fields.Select(f => $"{f} {agree[f]}/{cases.Count}")));
        foreach (var (f, c) in firsts)
        {
            sb.AppendLine($"  first {f} mismatch ({c.Label}) text={JsonSerializer.Serialize(c.Text)}" + (c.Pair != null ? $" pair={JsonSerializer.Serialize(c.Pair)}" : ""));
            sb.AppendLine($"    expected tokens: {Describe(c.Expected.Tokens, c.Expected.Offsets.Select(o => (o[0], o[1])).ToArray(), c.Expected.WordIds)}");
            sb.AppendLine($"    actual tokens:   {Describe(c.Actual.Tokens.ToArray(), c.Actual.Offsets.Select(o => (o.Start, o.End)).ToArray(), c.Actual.WordIds.ToArray())}");
            if (f is "ids" or "type_ids" or "special_tokens_mask" or "sequence_ids")
            {
                sb.AppendLine($"    expected {f}: {string.Join(",", Field(f, c.Expected))}");
                sb.AppendLine($"    actual {f}:   {string.Join(",", Field(f, c.Actual))}");
            }
        }

        return (agree, cases.Count, sb.ToString());
    }

    private static IEnumerable<string> Field(string f, ExpectedEncoding e) => f switch
    {
        "ids" => e.Ids.Select(x => x.ToString()),
        "type_ids" => e.TypeIds.Select(x => x.ToString()),
        "special_tokens_mask" => e.SpecialTokensMask.Select(x => x.ToString()),
        _ => e.SequenceIds.Select(x => x?.ToString() ?? "-"),
    };

    private static IEnumerable<string> Field(string f, TokenizedText e) => f switch
    {
        "ids" => e.Ids.Select(x => x.ToString()),
        "type_ids" => e.TypeIds.Select(x => x.ToString()),
        "special_tokens_mask" => e.SpecialTokensMask.Select(x => x.ToString()),
        _ => e.SequenceIds.Select(x => x?.ToString() ?? "-"),
    };

    private static string Describe(string[] tokens, (int, int)[] offsets, int?[] words)
    {
        var parts = tokens.Select((t, i) => $"{JsonSerializer.Serialize(t)}@{offsets.ElementAtOrDefault(i).Item1}-{offsets.ElementAtOrDefault(i).Item2}w{words.ElementAtOrDefault(i)?.ToString() ?? "-"}");
        var s = string.Join(" ", parts);
        return s.Length > 1500 ? s[..1500] + " ..." : s;
    }
}

/// <summary>Loads tokenizers once per model folder (they are immutable and thread-safe).</summary>
internal static class Tokenizers
{
    private static readonly Dictionary<string, Lazy<TransformerTokenizer>> Cache = SharedData.ModelNames
        .ToDictionary(n => n, n => new Lazy<TransformerTokenizer>(() => TransformerTokenizer.Load(SharedData.Model(n))));

    public static TransformerTokenizer Get(string model) => Cache[model].Value;
}

public sealed class TokenizerParityTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>HF corpus file -> the model folder it was produced from (README of golden/tokenizers).</summary>
    public static TheoryData<string> Corpora => new() { "bert-base-uncased", "bert-base-cased", "roberta-base" };

    private static string FolderOf(JsonElement root) =>
        Path.GetFileName(root.GetProperty("model_folder").GetString()!.TrimEnd('/'));

    internal static List<ParityCase> RunCorpus(string corpus, TransformerTokenizer? tokenizer = null)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(SharedData.Golden, "tokenizers", corpus + ".json")));
        var root = doc.RootElement;
        return RunCorpus(root, tokenizer ?? Tokenizers.Get(FolderOf(root)));
    }

    /// <summary>Encodes a corpus in the format of shared/golden/tokenizers (sentences, pairs, truncation) and pairs it with what HF expects.</summary>
    internal static List<ParityCase> RunCorpus(JsonElement root, TransformerTokenizer tokenizer)
    {
        var expected = root.GetProperty("expected");
        var cases = new List<ParityCase>();

        var sentences = root.GetProperty("sentences").EnumerateArray().Select(x => x.GetString()!).ToArray();
        var expSentences = expected.GetProperty("sentences").EnumerateArray().ToArray();
        Assert.Equal(sentences.Length, expSentences.Length);
        var actualSentences = tokenizer.EncodeBatch(sentences);
        for (var i = 0; i < sentences.Length; i++)
            cases.Add(new ParityCase($"sentences[{i}]", sentences[i], null, ExpectedEncoding.From(expSentences[i]), actualSentences[i]));

        var pairs = root.GetProperty("pairs").EnumerateArray().Select(x => (x[0].GetString()!, x[1].GetString()!)).ToArray();
        var expPairs = expected.GetProperty("pairs").EnumerateArray().ToArray();
        Assert.Equal(pairs.Length, expPairs.Length);
        var actualPairs = tokenizer.EncodeBatch(pairs);
        for (var i = 0; i < pairs.Length; i++)
            cases.Add(new ParityCase($"pairs[{i}]", pairs[i].Item1, pairs[i].Item2, ExpectedEncoding.From(expPairs[i]), actualPairs[i]));

        var trunc = root.GetProperty("truncation").EnumerateArray().ToArray();
        var expTrunc = expected.GetProperty("truncation").EnumerateArray().ToArray();
        Assert.Equal(trunc.Length, expTrunc.Length);
        for (var i = 0; i < trunc.Length; i++)
        {
            var t = trunc[i];
            var text = t.GetProperty("text").GetString()!;
            var pair = t.GetProperty("pair").ValueKind == JsonValueKind.Null ? null : t.GetProperty("pair").GetString();
            var max = t.GetProperty("max_length").GetInt32();
            var actual = pair == null ? tokenizer.Encode(text, max) : tokenizer.Encode(text, pair, max);
            cases.Add(new ParityCase($"truncation[{i}] max_length={max}", text, pair, ExpectedEncoding.From(expTrunc[i]), actual));
        }

        return cases;
    }

    [Theory]
    [MemberData(nameof(Corpora))]
    public void Corpus_matches_HuggingFace_field_by_field(string corpus)
    {
        var report = ReportBySection(corpus, RunCorpus(corpus), out var failed);
        output.WriteLine(report);
        Assert.False(failed, report);
    }

    /// <summary>The per-field agreement of sentences, pairs and truncation cases, and whether any field disagrees.</summary>
    internal static string ReportBySection(string corpus, List<ParityCase> cases, out bool failed)
    {
        var report = new StringBuilder();
        failed = false;
        foreach (var (label, filter) in new (string, Func<ParityCase, bool>)[]
                 {
                     ("sentences", c => c.Label.StartsWith("sentences", StringComparison.Ordinal)),
                     ("pairs", c => c.Label.StartsWith("pairs", StringComparison.Ordinal)),
                     ("truncation", c => c.Label.StartsWith("truncation", StringComparison.Ordinal)),
                 })
        {
            var subset = cases.Where(filter).ToList();
            var (agree, total, text) = ParityReport.Compare($"{corpus}/{label}", subset);
            report.Append(text);
            if (agree.Values.Any(v => v != total) || total == 0) failed = true;
        }

        return report.ToString();
    }

    public static TheoryData<string> Models => new(SharedData.ModelNames);

    [Theory]
    [MemberData(nameof(Models))]
    public void Model_golden_tokens_match(string model)
    {
        var tokenizer = Tokenizers.Get(model);
        using var inputsDoc = JsonDocument.Parse(File.ReadAllBytes(SharedData.GoldenFile("inputs.json")));
        using var goldenDoc = JsonDocument.Parse(File.ReadAllBytes(SharedData.GoldenFile(model + ".tokens.json")));
        var inputs = inputsDoc.RootElement;
        var golden = goldenDoc.RootElement;
        var cases = new List<ParityCase>();

        var mask = tokenizer.MaskToken ?? throw new InvalidOperationException($"{model} has no mask token");
        var sentences = inputs.GetProperty("sentences").EnumerateArray().Select(x => x.GetString()!.Replace("{mask}", mask, StringComparison.Ordinal)).ToArray();
        var exp = golden.GetProperty("sentences").EnumerateArray().ToArray();
        Assert.Equal(sentences.Length, exp.Length);
        for (var i = 0; i < sentences.Length; i++)
            cases.Add(new ParityCase($"sentences[{i}]", sentences[i], null, ExpectedEncoding.From(exp[i]), tokenizer.Encode(sentences[i])));

        var pairs = inputs.GetProperty("pairs").EnumerateArray().Select(x => (x[0].GetString()!, x[1].GetString()!)).ToArray();
        var expPairs = golden.GetProperty("pairs").EnumerateArray().ToArray();
        Assert.Equal(pairs.Length, expPairs.Length);
        for (var i = 0; i < pairs.Length; i++)
            cases.Add(new ParityCase($"pairs[{i}]", pairs[i].Item1, pairs[i].Item2, ExpectedEncoding.From(expPairs[i]), tokenizer.Encode(pairs[i].Item1, pairs[i].Item2)));

        var longText = inputs.GetProperty("long").GetString()!;
        var longMax = golden.GetProperty("long_max_length").GetInt32();
        var longActual = tokenizer.Encode(longText, longMax);
        cases.Add(new ParityCase($"long max_length={longMax}", longText, null, ExpectedEncoding.From(golden.GetProperty("long")), longActual));
        Assert.True(longActual.Truncated);
        Assert.Equal(longMax, longActual.Count);

        var (agree, total, report) = ParityReport.Compare(model, cases);
        output.WriteLine(report);
        Assert.True(agree.Values.All(v => v == total), report);
    }
}

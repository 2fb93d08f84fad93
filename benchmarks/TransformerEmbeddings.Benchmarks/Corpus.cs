using TransformerEmbeddings.Tokenization;

namespace TransformerEmbeddings.Benchmarks;

/// <summary>The STS-benchmark dev sentences and a tokenizer shared by both engines (same ids in, same pooling out).</summary>
internal static class Corpus
{
    public const int MaxLength = 256; // all-MiniLM-L6-v2 sentence_bert_config max_seq_length

    public static string SharedRoot()
    {
        var env = Environment.GetEnvironmentVariable("TE_SHARED");
        if (!string.IsNullOrEmpty(env)) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var c = Path.Combine(dir.FullName, "shared");
            if (Directory.Exists(Path.Combine(c, "testmodels"))) return c;
        }
        return "/work/shared";
    }

    public static string MiniLmFolder => Path.Combine(SharedRoot(), "testmodels", "all-MiniLM-L6-v2");

    public static string StsDevPath => Path.Combine(SharedRoot(), "data", "stsbenchmark", "sts-dev.csv");

    /// <summary>sentence1 and sentence2 of every line, in file order (raw lines split on tabs; quotes are text).</summary>
    public static List<string> StsSentences(int? limit = null)
    {
        var list = new List<string>();
        foreach (var line in File.ReadLines(StsDevPath))
        {
            var cols = line.Split('\t');
            if (cols.Length < 7) continue;
            list.Add(cols[5]);
            list.Add(cols[6]);
        }
        return limit is { } n ? list.Take(n).ToList() : list;
    }

    /// <summary>The gold similarity of each sentence pair of <see cref="StsSentences"/>, in file order.</summary>
    public static List<double> StsScores() =>
        File.ReadLines(StsDevPath).Select(l => l.Split('\t')).Where(c => c.Length >= 7)
            .Select(c => double.Parse(c[4], System.Globalization.CultureInfo.InvariantCulture)).ToList();

    /// <summary>The library's HF-exact tokenizer; both engines get the ids it makes.</summary>
    public static TransformerTokenizer Tokenizer(string folder) => TransformerTokenizer.Load(folder);

    /// <summary>Ids of one text, truncated at the sentence-transformers limit (256), special tokens included.</summary>
    public static int[] Encode(TransformerTokenizer tok, string text) => tok.Encode(text, MaxLength).Ids.ToArray();

    /// <summary>Indices into <paramref name="ids"/>, sorted by length (stable), cut into batches.</summary>
    public static List<int[]> LengthSortedBatches(IReadOnlyList<int[]> ids, int batchSize)
    {
        var order = Enumerable.Range(0, ids.Count).OrderBy(i => ids[i].Length).ToArray();
        var batches = new List<int[]>();
        for (var i = 0; i < order.Length; i += batchSize) batches.Add(order[i..Math.Min(order.Length, i + batchSize)]);
        return batches;
    }

    /// <summary>Deterministic pseudo-random ids: [CLS] body [SEP], body drawn from the ordinary vocabulary.</summary>
    public static int[][] RandomIds(int batch, int length, int vocab, int seed = 1234, int cls = 101, int sep = 102)
    {
        var rng = new Random(seed);
        var rows = new int[batch][];
        for (var b = 0; b < batch; b++)
        {
            var r = new int[length];
            for (var j = 0; j < length; j++) r[j] = rng.Next(1000, Math.Min(vocab, 30000));
            r[0] = cls;
            r[^1] = sep;
            rows[b] = r;
        }
        return rows;
    }
}

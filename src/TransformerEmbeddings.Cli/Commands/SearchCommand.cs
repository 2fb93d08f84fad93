using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using TransformerEmbeddings.Weights;

namespace TransformerEmbeddings.Cli.Commands;

/// <summary>
/// <c>te search --model DIR --corpus FILE --query "…" [-k 5]</c>: embeds the corpus once into an index file beside it
/// (reused while the model and the corpus are unchanged), then prints the top k corpus texts of each query, scored
/// with the folder's <c>similarity_fn_name</c>.
/// </summary>
internal static class SearchCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A HuggingFace or sentence-transformers model folder.", Required = true };
        var corpus = new Option<string>("--corpus") { Description = "The texts to search: .txt (one per line), .jsonl or .json (as te embed reads them).", Required = true };
        var field = new Option<string>("--field") { Description = "The text field of JSON objects.", DefaultValueFactory = _ => "text" };
        var query = new Option<string[]>("--query") { Description = "A query; repeat for several.", Required = true, AllowMultipleArgumentsPerToken = false };
        var k = new Option<int>("-k", "--top-k") { Description = "Hits per query.", DefaultValueFactory = _ => 5 };
        var index = new Option<string?>("--index") { Description = "The corpus vectors (.safetensors); default: CORPUS.te-index.safetensors beside the corpus." };
        var command = new Command("search", "Find the corpus texts closest to each query (exact top-k). Exit codes as te embed.")
        {
            model, corpus, field, query, k, index,
        };
        command.SetAction(parse => CommandRunner.Run(() =>
        {
            var topK = parse.GetValue(k);
            if (topK < 1) throw new CliException("-k must be at least 1.");
            var corpusPath = parse.GetValue(corpus)!;
            using var embedder = SentenceEmbedder.Load(parse.GetValue(model)!);
            using var source = TextSource.Open(corpusPath, null, parse.GetValue(field)!, null);
            var texts = new List<string>();
            foreach (var r in source.Read()) texts.Add(r.Text);
            var indexPath = parse.GetValue(index) ?? corpusPath + ".te-index.safetensors";
            var vectors = LoadOrBuild(embedder, texts, corpusPath, indexPath);
            var queries = embedder.Embed(parse.GetValue(query)!);
            var hits = embedder.SemanticSearch(queries, vectors, topK);
            var stdout = Console.Out;
            for (var q = 0; q < hits.Length; q++)
            {
                stdout.WriteLine($"query: {parse.GetValue(query)![q]}");
                for (var i = 0; i < hits[q].Length; i++)
                    stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {i + 1}. {hits[q][i].Score:F4}  [{hits[q][i].CorpusId}]  {texts[hits[q][i].CorpusId]}"));
            }
            return 0;
        }));
        return command;
    }

    /// <summary>The index when it was made by this model from this corpus (same size and time), else a new one.</summary>
    private static Embeddings LoadOrBuild(SentenceEmbedder embedder, List<string> texts, string corpusPath, string indexPath)
    {
        var corpus = new FileInfo(corpusPath);
        var stamp = new Dictionary<string, string>
        {
            ["model"] = embedder.Model.Folder,
            ["corpus"] = corpus.FullName,
            ["corpus_bytes"] = corpus.Length.ToString(CultureInfo.InvariantCulture),
            ["corpus_time"] = corpus.LastWriteTimeUtc.Ticks.ToString(CultureInfo.InvariantCulture),
        };
        if (File.Exists(indexPath))
        {
            using var file = SafeTensorsFile.Open(indexPath);
            if (stamp.All(kv => file.Metadata.TryGetValue(kv.Key, out var v) && v == kv.Value) && file.TryGetTensor("embeddings", out var info)
                && info.Shape.Count == 2 && info.Shape[0] == texts.Count)
                return new Embeddings(file.ReadFloat32("embeddings"), texts.Count, (int)info.Shape[1]);
        }
        Console.Error.WriteLine($"te: embedding {texts.Count:N0} corpus texts into {indexPath}");
        var vectors = embedder.Embed(texts);
        SafeTensorsWriter.Write(indexPath,
            [new SafeTensorEntry("embeddings", SafeTensorsDType.F32, [vectors.Count, vectors.Dimension], MemoryMarshal.AsBytes(vectors.Values).ToArray())],
            stamp);
        return vectors;
    }
}

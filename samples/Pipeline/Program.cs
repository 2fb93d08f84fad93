// Pipeline: JSON lines in ({"id": …, "text": …}), safetensors out (F32 "embeddings" [N, D], ids in __metadata__), with
// progress. Texts stream through token-budget batches; memory for the model's work is bounded by one sort window.
// dotnet run --project samples/Pipeline -- ../shared/testmodels/all-MiniLM-L6-v2 samples/Pipeline/docs.jsonl embeddings.safetensors
// (For corpora that do not fit in memory, `te embed` writes rows as they come, shards and resumes.)
using System.Runtime.InteropServices;
using System.Text.Json;
using TransformerEmbeddings;
using TransformerEmbeddings.Pipelines;
using TransformerEmbeddings.Weights;

var folder = args.Length > 0 ? args[0] : Path.Combine("..", "shared", "testmodels", "all-MiniLM-L6-v2");
var input = args.Length > 1 ? args[1] : Path.Combine("samples", "Pipeline", "docs.jsonl");
var output = args.Length > 2 ? args[2] : "embeddings.safetensors";

using var embedder = SentenceEmbedder.Load(folder);
var ids = new List<string>();

// Read lazily: each line is parsed when the pipeline asks for the next text.
IEnumerable<string> Texts()
{
    foreach (var line in File.ReadLines(input))
    {
        if (string.IsNullOrWhiteSpace(line)) continue;
        using var doc = JsonDocument.Parse(line);
        ids.Add(doc.RootElement.GetProperty("id").GetRawText());
        yield return doc.RootElement.GetProperty("text").GetString()!;
    }
}

var progress = new ConsoleProgress();
var rows = new List<float>();
var dimension = 0;
foreach (var item in embedder.EmbedStream(Texts(), new EmbeddingOptions { Batching = new BatchOptions { MaxTokensPerBatch = 4096 } }, progress))
{
    dimension = item.Dimension;
    rows.AddRange(item.Values);   // results arrive in input order
}

var count = dimension == 0 ? 0 : rows.Count / dimension;
SafeTensorsWriter.Write(output,
    [new SafeTensorEntry("embeddings", SafeTensorsDType.F32, [count, dimension], MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(rows)).ToArray())],
    new Dictionary<string, string> { ["ids"] = "[" + string.Join(",", ids) + "]" });
Console.WriteLine($"{count} vectors of {dimension} dimensions -> {output}");

/// <summary>Prints the progress reports on the embedding thread.</summary>
internal sealed class ConsoleProgress : IProgress<EmbeddingProgress>
{
    public void Report(EmbeddingProgress p) =>
        Console.Error.WriteLine($"{(p.Completed ? "done" : "...")} {p.Texts} texts, {p.Tokens} tokens ({p.TokensPerSecond:N0}/s), " +
                                $"padding {100.0 * (p.PaddedTokens - p.Tokens) / Math.Max(1, p.PaddedTokens):F0} %, {p.TruncatedTexts} cut at the limit");
}

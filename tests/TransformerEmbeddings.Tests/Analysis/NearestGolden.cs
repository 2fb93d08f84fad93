using System.Text.Json.Nodes;
using TransformerEmbeddings.Tests.Infrastructure;

namespace TransformerEmbeddings.Tests.Analysis;

/// <summary>The queries of ../shared/golden/&lt;model&gt;.nearest.json.</summary>
public static class NearestGolden
{
    public sealed record Ranking(long[] Ids, double[] Distances, int SelfRank);

    public sealed record Head(int Index, Ranking Cosine, Ranking Euclidean);

    public sealed record Query(int Sequence, int Position, int Layer, int TokenId, Head[] Heads);

    public static Query[] For(string model)
    {
        var root = JsonNode.Parse(File.ReadAllText(SharedData.GoldenFile($"{model}.nearest.json")))!;
        static Ranking Read(JsonNode n) => new(
            n["ids"]!.AsArray().Select(i => i!.GetValue<long>()).ToArray(),
            n["distances"]!.AsArray().Select(d => d!.GetValue<double>()).ToArray(),
            n["self_rank"]!.GetValue<int>());
        return root["queries"]!.AsArray().Select(q => new Query(
            q!["batch_index"]!.GetValue<int>(), q["position"]!.GetValue<int>(), q["layer"]!.GetValue<int>(), q["token_id"]!.GetValue<int>(),
            q["heads"]!.AsArray().Select(h => new Head(h!["head"]!.GetValue<int>(), Read(h["cosine"]!), Read(h["euclidean"]!))).ToArray())).ToArray();
    }

    /// <summary>Every (model, query index) pair.</summary>
    public static Xunit.TheoryData<string, int> Queries()
    {
        var data = new Xunit.TheoryData<string, int>();
        foreach (var m in SharedData.ModelNames)
            for (var i = 0; i < For(m).Length; i++)
                data.Add(m, i);
        return data;
    }
}

using TransformerEmbeddings.Weights;

namespace TransformerEmbeddings.Cli.Commands;

/// <summary>The <c>pool.*</c> tensors of ../shared/README.md, computed with the pooling API.</summary>
internal static class DumpExtensions
{
    public static void AddPooling(List<SafeTensorEntry> entries, string prefix, EncoderOutput output)
    {
        var mean = output.Tokens().Mean();
        Add(entries, prefix + "pool.cls", output.Tokens().Cls());
        Add(entries, prefix + "pool.mean", mean);
        Add(entries, prefix + "pool.mean_normalized", mean.Normalize());
        Add(entries, prefix + "pool.max", output.Tokens().Max());
        // The last four hidden states, or all of them when the model has fewer (embeddings output included).
        var last = Math.Min(4, output.LayerCount + 1);
        Add(entries, prefix + "pool.last4_mean", output.HiddenStates(^last..).Mean().Tokens().Mean());
    }

    private static void Add(List<SafeTensorEntry> entries, string name, Embeddings e)
    {
        using var t = e.ToTensor();
        DumpCommand.Add(entries, name, t);
    }
}

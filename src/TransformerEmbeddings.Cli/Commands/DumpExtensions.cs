using TransformerEmbeddings.Weights;

namespace TransformerEmbeddings.Cli.Commands;

/// <summary>The <c>pool.*</c> tensors of ../shared/README.md, computed with the pooling API.</summary>
internal static class DumpExtensions
{
    public static void AddPooling(List<SafeTensorEntry> entries, string prefix, EncoderOutput output)
    {
        using (var cls = output.Cls()) DumpCommand.Add(entries, prefix + "pool.cls", cls.Tensor);
        using (var mean = output.LastLayer().Tokens().Mean())
        {
            DumpCommand.Add(entries, prefix + "pool.mean", mean.Tensor);
            using var normalized = mean.Normalize();
            DumpCommand.Add(entries, prefix + "pool.mean_normalized", normalized.Tensor);
        }
        using (var max = output.LastLayer().Tokens().Max()) DumpCommand.Add(entries, prefix + "pool.max", max.Tensor);
        // The last four hidden states, or all of them when the model has fewer (embeddings output included).
        var last = Math.Min(4, output.LayerCount + 1);
        using (var last4 = output.Layers(^last..).Mean().Tokens().Mean()) DumpCommand.Add(entries, prefix + "pool.last4_mean", last4.Tensor);
    }
}

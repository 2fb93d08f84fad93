using TransformerEmbeddings.Weights;

namespace TransformerEmbeddings.Cli.Commands;

/// <summary>Tensors other issues add to <c>te dump</c> (pooling).</summary>
internal static class DumpExtensions
{
    public static void AddPooling(List<SafeTensorEntry> entries, string prefix, EncoderOutput output)
    {
        _ = entries;
        _ = prefix;
        _ = output;
    }
}

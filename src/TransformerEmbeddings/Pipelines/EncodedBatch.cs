namespace TransformerEmbeddings.Pipelines;

/// <summary>One forward pass of <see cref="TransformerModel.EncodeBatches"/>: the output and which inputs its rows are. Dispose it.</summary>
public sealed class EncodedBatch : IDisposable
{
    internal EncodedBatch(long[] indices, EncoderOutput output)
    {
        Indices = indices;
        Output = output;
    }

    /// <summary>The 0-based input position of each row of <see cref="Output"/>.</summary>
    public IReadOnlyList<long> Indices { get; }

    /// <summary>The output of the pass (rows longest first); owned by this batch.</summary>
    public EncoderOutput Output { get; }

    /// <summary>Releases the output's tensors.</summary>
    public void Dispose() => Output.Dispose();
}

namespace TransformerEmbeddings.Analysis;

/// <summary>How embeddings are stored compactly, as sentence-transformers' <c>quantize_embeddings</c> names the precisions.</summary>
public enum QuantizationPrecision
{
    /// <summary>One signed byte per dimension: <c>(x − min) / ((max − min) / 255) − 128</c>, truncated; 4× smaller than float32.</summary>
    Int8,

    /// <summary>One unsigned byte per dimension: <c>(x − min) / ((max − min) / 255)</c>, truncated; 4× smaller than float32.</summary>
    UInt8,

    /// <summary>One bit per dimension (1 where x &gt; 0), packed 8 to a byte most significant bit first, stored minus 128 as signed bytes; 32× smaller.</summary>
    Binary,

    /// <summary>One bit per dimension (1 where x &gt; 0), packed 8 to a byte most significant bit first, as unsigned bytes; 32× smaller.</summary>
    UBinary,
}

namespace TransformerEmbeddings.Configuration;

/// <summary>Which embedding flavour the encoder uses; everything after the embeddings is shared.</summary>
public enum ModelArchitecture
{
    /// <summary>BERT: position ids 0..S-1.</summary>
    Bert,

    /// <summary>RoBERTa (also XLM-RoBERTa, CamemBERT): position ids start at <c>pad_token_id + 1</c>, pads get <c>pad_token_id</c>.</summary>
    Roberta,
}

namespace TransformerEmbeddings.Configuration;

/// <summary>The encoder family a <c>model_type</c> belongs to: which module tree and which position ids the model uses.</summary>
public enum ModelArchitecture
{
    /// <summary>BERT: position ids 0..S-1, token-type embeddings.</summary>
    Bert,

    /// <summary>RoBERTa (also XLM-RoBERTa, CamemBERT): BERT's tree; position ids start at <c>pad_token_id + 1</c>, pads get <c>pad_token_id</c>.</summary>
    Roberta,

    /// <summary>DistilBERT: word and position embeddings (ids 0..S-1) only; <c>transformer.layer.N</c> blocks; no pooler.</summary>
    DistilBert,

    /// <summary>MPNet: word and position embeddings (RoBERTa's ids, padding index 1); a relative position bias shared by all layers.</summary>
    MPNet,
}

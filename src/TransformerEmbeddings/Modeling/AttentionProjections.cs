namespace TransformerEmbeddings.Modeling;

/// <summary>A layer's attention projections under their roles (BERT query/key/value/output.dense, DistilBERT q_lin/k_lin/v_lin/out_lin, MPNet q/k/v/o).</summary>
internal sealed record AttentionProjections(Dense Query, Dense Key, Dense Value, Dense Output);

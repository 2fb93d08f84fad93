using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Tokenization;

namespace TransformerEmbeddings.Pipelines;

/// <summary><see cref="TransformerModel.EncodeBatches"/>: windows of texts, tokenized, planned by <see cref="BatchPlanner"/>, one forward pass each.</summary>
internal static class BatchEncoding
{
    public static IEnumerable<EncodedBatch> Run(TransformerModel model, IEnumerable<string> texts, BatchOptions batching, CaptureOptions? capture, int? maxLength)
    {
        batching.Validate();
        var window = new List<string>(batching.SortWindow);
        long start = 0;
        foreach (var text in texts)
        {
            window.Add(text ?? throw new ArgumentException($"Text {start + window.Count} is null.", nameof(texts)));
            if (window.Count < batching.SortWindow) continue;
            foreach (var b in RunWindow(model, window, start, batching, capture, maxLength)) yield return b;
            start += window.Count;
            window.Clear();
        }
        if (window.Count > 0)
            foreach (var b in RunWindow(model, window, start, batching, capture, maxLength)) yield return b;
    }

    private static IEnumerable<EncodedBatch> RunWindow(TransformerModel model, List<string> texts, long start, BatchOptions batching,
        CaptureOptions? capture, int? maxLength)
    {
        var tokens = model.Tokenizer.EncodeBatch(texts, maxLength);
        var lengths = new int[tokens.Count];
        for (var i = 0; i < lengths.Length; i++) lengths[i] = tokens[i].Count;
        foreach (var batch in BatchPlanner.Plan(lengths, batching))
        {
            var rows = new TokenizedText[batch.Length];
            var indices = new long[batch.Length];
            for (var j = 0; j < batch.Length; j++)
            {
                rows[j] = tokens[batch[j]];
                indices[j] = start + batch[j];
            }
            using var inputs = EncoderInputs.Create(rows, model.Tokenizer.PadTokenId);
            yield return new EncodedBatch(indices, model.Encode(inputs, capture));
        }
    }

    /// <summary>Refuses one giant padded batch: it would hold activations for every padded position at once.</summary>
    public static void CheckSingleBatch(IReadOnlyList<TokenizedText> tokens)
    {
        var longest = 0;
        foreach (var t in tokens) longest = Math.Max(longest, t.Count);
        var padded = (long)longest * tokens.Count;
        if (padded > TransformerModel.MaxTokensPerEncode)
            throw new ArgumentException(
                $"Encode runs one padded batch: {tokens.Count} texts × {longest} tokens = {padded:N0} tokens, more than {TransformerModel.MaxTokensPerEncode:N0}. " +
                "Use model.EncodeBatches(texts) for token-budget batches, or SentenceEmbedder.Embed / EmbedStream for vectors.", nameof(tokens));
    }
}

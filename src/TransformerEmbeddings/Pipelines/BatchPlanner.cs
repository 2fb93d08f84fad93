namespace TransformerEmbeddings.Pipelines;

/// <summary>
/// Groups sequences into forward passes: longest first (ties in input order), each pass as many as fit both the
/// token budget (passes × longest) and the text limit. Sorting first keeps padding small; a pass is padded only to
/// its own first (longest) sequence.
/// </summary>
internal static class BatchPlanner
{
    /// <summary>The passes, as indices into <paramref name="lengths"/>, each longest first.</summary>
    public static List<int[]> Plan(ReadOnlySpan<int> lengths, BatchOptions options)
    {
        var n = lengths.Length;
        // One sort key per sequence: length descending, then index ascending (a stable order any run repeats).
        var keys = new long[n];
        for (var i = 0; i < n; i++) keys[i] = ((long)(int.MaxValue - lengths[i]) << 32) | (uint)i;
        Array.Sort(keys);
        var batches = new List<int[]>();
        for (var start = 0; start < n;)
        {
            var longest = Math.Max(1, lengths[(int)(keys[start] & 0xFFFFFFFF)]);
            var count = Math.Clamp(options.MaxTokensPerBatch / longest, 1, options.MaxTextsPerBatch);
            count = Math.Min(count, n - start);
            var batch = new int[count];
            for (var j = 0; j < count; j++) batch[j] = (int)(keys[start + j] & 0xFFFFFFFF);
            batches.Add(batch);
            start += count;
        }
        return batches;
    }

    /// <summary>Tokens the passes compute, padding included: Σ count × longest.</summary>
    public static long PaddedTokens(ReadOnlySpan<int> lengths, IEnumerable<int[]> batches)
    {
        long total = 0;
        foreach (var batch in batches)
        {
            var longest = 0;
            foreach (var i in batch) longest = Math.Max(longest, lengths[i]);
            total += (long)longest * batch.Length;
        }
        return total;
    }
}

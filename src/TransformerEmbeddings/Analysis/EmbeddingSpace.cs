using TorchSharp;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Runtime;
using TransformerEmbeddings.Weights;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Analysis;

/// <summary>
/// Diagnostics of the input-embedding matrix E (vocab, H), the token-embedding primer's checks: the tokens nearest to a
/// token or to any vector, each token's norm, how isotropic the rows are, and whether the MLM decoder is tied to E.
/// Searches stream E in chunks, so a 250k vocabulary needs no copy of it.
/// </summary>
public static class EmbeddingSpace
{
    /// <summary>Rows per chunk of E.</summary>
    private const long Chunk = 8192;

    /// <summary>The tokens whose rows of E are nearest to the row of <paramref name="token"/>, the token itself left out.</summary>
    /// <param name="model">The model.</param>
    /// <param name="token">A vocabulary token as the tokenizer spells it (<c>king</c>, <c>Ġking</c>, <c>##ing</c>).</param>
    /// <param name="k">How many.</param>
    /// <param name="metric">Cosine or Euclidean.</param>
    /// <returns>The k nearest, ascending, with the token's own rank (0 unless another row coincides).</returns>
    /// <exception cref="ArgumentException">The token is not in the vocabulary.</exception>
    public static NearestTokens Nearest(TransformerModel model, string token, int k = 10, DistanceMetric metric = DistanceMetric.Cosine)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(token);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var id = model.Tokenizer.TokenToId(token) ?? throw new ArgumentException($"'{token}' is not in the vocabulary of {model.Folder}.", nameof(token));
        return Search(model, Row(model, id), k + 1, metric, id, exclude: id, limit: k);
    }

    /// <summary>The tokens whose rows of E are nearest to any vector (a difference of rows, a hidden state, a probe).</summary>
    /// <param name="model">The model.</param>
    /// <param name="vector">H values.</param>
    /// <param name="k">How many.</param>
    /// <param name="metric">Cosine or Euclidean.</param>
    /// <returns>The k nearest, ascending.</returns>
    public static NearestTokens Nearest(TransformerModel model, ReadOnlySpan<float> vector, int k = 10, DistanceMetric metric = DistanceMetric.Cosine)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (vector.Length != model.HiddenSize)
            throw new ArgumentException($"The vector has {vector.Length} values; this model's rows have {model.HiddenSize}.", nameof(vector));
        return Search(model, vector.ToArray().Select(v => (double)v).ToArray(), k, metric, null, null, k);
    }

    /// <summary>The L2 norm of every row of E, by token id.</summary>
    /// <param name="model">The model.</param>
    /// <returns>vocab values.</returns>
    public static float[] Norms(TransformerModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return model.Weights.WordEmbeddings.to(ScalarType.Float32).norm(1).cpu().data<float>().ToArray();
    }

    /// <summary>The isotropy of E, measured on a uniform sample of its rows (all of them when the vocabulary is smaller).</summary>
    /// <param name="model">The model.</param>
    /// <param name="sample">How many rows.</param>
    /// <param name="seed">The sample's seed.</param>
    /// <returns>The report.</returns>
    public static IsotropyReport Isotropy(TransformerModel model, int sample = 4096, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(sample, 2);
        var vocab = model.Config.VocabSize;
        var ids = Enumerable.Range(0, vocab).ToArray();
        if (sample < vocab)
        {
            new Random(seed).Shuffle(ids);
            ids = ids[..sample];
            Array.Sort(ids);
        }
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var rows = model.Weights.WordEmbeddings.index_select(0, tensor(ids.Select(i => (long)i).ToArray(), device: model.Device));
        return Isotropy(rows);
    }

    /// <summary>The isotropy of any set of vectors (N, D), e.g. sentence embeddings or one layer's token states.</summary>
    /// <param name="vectors">At least two rows.</param>
    /// <returns>The report.</returns>
    public static IsotropyReport Isotropy(Tensor vectors)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        if (vectors.dim() != 2 || vectors.shape[0] < 2)
            throw new ArgumentException($"Expected (N, D) with N ≥ 2; got ({string.Join(", ", vectors.shape)}).", nameof(vectors));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = vectors.to(ScalarType.Float64).cpu();
        var n = x.shape[0];
        using var tiny = 1e-300.ToScalar();
        var norms = x.norm(1);
        var unit = x / norms.clamp_min(tiny).unsqueeze(1);
        var sum = unit.sum(0L);
        // Σ_{i≠j} cos(i, j) = |Σ x̂|² − Σ |x̂|², without the N × N matrix.
        var pairwise = (sum.dot(sum).item<double>() - unit.pow(Scalars.Two).sum().item<double>()) / (n * (double)(n - 1));
        var singular = linalg.svdvals(x);
        var p = singular / singular.sum();
        var entropy = -(p * p.clamp_min(tiny).log()).sum().item<double>();
        return new IsotropyReport((int)n, (int)x.shape[1], pairwise, Math.Exp(entropy), norms.mean().item<double>());
    }

    /// <summary>Whether the checkpoint's MLM decoder is the word-embedding matrix (read from the weight files, not assumed).</summary>
    /// <param name="model">The model.</param>
    /// <returns>What was found.</returns>
    public static DecoderTie DecoderTie(TransformerModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.MaskedLanguageModel is null)
            return new DecoderTie(false, false, null, "The checkpoint has no masked-language-model head.");
        var files = model.Checkpoint.Files.Select(SafeTensorsFile.Open).ToList();
        try
        {
            (SafeTensorsFile File, SafeTensorInfo Info)? Find(Func<string, bool> match)
            {
                foreach (var f in files)
                    foreach (var t in f.Tensors)
                        if (match(t.Name)) return (f, t);
                return null;
            }

            var decoder = Find(n => n is "cls.predictions.decoder.weight" or "lm_head.decoder.weight" or "vocab_projector.weight");
            if (decoder is null)
                return new DecoderTie(true, true, null, "The checkpoint omits the decoder weight, so the head reuses the word embeddings (HF ties them).");
            var embeddings = Find(n => n.EndsWith("embeddings.word_embeddings.weight", StringComparison.Ordinal))
                             ?? throw new ModelConfigurationException(model.Folder, null, "the checkpoint stores no word_embeddings.weight.");
            var name = decoder.Value.Info.Name;
            var same = SameValues(decoder.Value, embeddings);
            return new DecoderTie(true, same, name, same
                ? $"The checkpoint stores {name}, equal to the word embeddings: tied."
                : $"The checkpoint stores {name}, different from the word embeddings: untied.");
        }
        finally
        {
            foreach (var f in files) f.Dispose();
        }
    }

    private static bool SameValues((SafeTensorsFile File, SafeTensorInfo Info) a, (SafeTensorsFile File, SafeTensorInfo Info) b)
    {
        if (!a.Info.Shape.SequenceEqual(b.Info.Shape)) return false;
        var x = a.File.GetBytes(a.Info);
        var y = b.File.GetBytes(b.Info);
        if (a.Info.DType == b.Info.DType) return x.SequenceEqual(y);
        // Different storage types: compare as float32, a block of values at a time.
        const int block = 1 << 16;
        var (sa, sb) = (x.Length / a.Info.ElementCount, y.Length / b.Info.ElementCount);
        var (fa, fb) = (new float[block], new float[block]);
        for (long i = 0; i < a.Info.ElementCount; i += block)
        {
            var n = (int)Math.Min(block, a.Info.ElementCount - i);
            DTypeConversion.ToFloat32(x.Slice((int)(i * sa), (int)(n * sa)), a.Info.DType, fa.AsSpan(0, n));
            DTypeConversion.ToFloat32(y.Slice((int)(i * sb), (int)(n * sb)), b.Info.DType, fb.AsSpan(0, n));
            if (!fa.AsSpan(0, n).SequenceEqual(fb.AsSpan(0, n))) return false;
        }
        return true;
    }

    private static double[] Row(TransformerModel model, int id)
    {
        using var scope = NewDisposeScope();
        return model.Weights.WordEmbeddings[id].to(ScalarType.Float64).cpu().data<double>().ToArray();
    }

    private static NearestTokens Search(TransformerModel model, double[] target, int k, DistanceMetric metric, int? self, int? exclude, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        if (metric is not (DistanceMetric.Cosine or DistanceMetric.Euclidean))
            throw new ArgumentOutOfRangeException(nameof(metric), metric, "Ask for one metric: Cosine or Euclidean.");
        using var scope = NewDisposeScope();
        var table = model.Weights.WordEmbeddings;
        var t = tensor(target).unsqueeze(0);                                                   // (1, H)
        var (cosine, euclidean) = StreamingNearest.Run(t, table.shape[0], Chunk,
            (start, n) => table.narrow(0, start, n).to(ScalarType.Float64).cpu().unsqueeze(1), self, k, metric);
        var r = (cosine ?? euclidean)!;
        var tokens = new List<TokenDistance>();
        for (var i = 0; i < r.Ids[0].Length && tokens.Count < limit; i++)
        {
            var id = (int)r.Ids[0][i];
            if (id == exclude) continue;
            tokens.Add(new TokenDistance(id, model.Tokenizer.IdToToken(id) ?? "", r.Distances[0][i]));
        }
        return new NearestTokens(tokens, r.SelfRanks[0]);
    }
}

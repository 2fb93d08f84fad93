using TransformerEmbeddings.Tokenization;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Pooling;

/// <summary>
/// Pools the sub-word tokens of each word into one vector per word (flair's <c>subtoken_pooling</c>). Words are the
/// tokenizer's word ids (per text of a pair); special tokens belong to no word. Needs an output encoded from text (else
/// <see cref="NotCapturedException"/>).
/// </summary>
public sealed class WordPooler
{
    private readonly TokenStates states;

    internal WordPooler(TokenStates states) => this.states = states;

    /// <summary>The mean of each word's sub-words.</summary>
    /// <returns>Per-sentence word vectors.</returns>
    public WordVectors Mean() => Pool(SubwordPooling.Mean);

    /// <summary>Each word's first sub-word.</summary>
    /// <returns>Per-sentence word vectors.</returns>
    public WordVectors First() => Pool(SubwordPooling.First);

    /// <summary>Each word's last sub-word.</summary>
    /// <returns>Per-sentence word vectors.</returns>
    public WordVectors Last() => Pool(SubwordPooling.Last);

    /// <summary>Each word's first and last sub-word, concatenated (2D values).</summary>
    /// <returns>Per-sentence word vectors.</returns>
    public WordVectors FirstLast() => Pool(SubwordPooling.FirstLast);

    private WordVectors Pool(SubwordPooling mode)
    {
        var output = states.Output;
        output.RequireTokenization(0); // words are the tokenizer's word ids: an output made from ids has none
        float[] values;
        int s, d;
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var h = states.Compute();
            (s, d) = ((int)h.shape[1], (int)h.shape[2]);
            values = h.detach().to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        }

        var sentences = new SentenceWords[output.BatchSize];
        var outDim = mode == SubwordPooling.FirstLast ? 2 * d : d;
        for (var b = 0; b < sentences.Length; b++)
        {
            var t = output.Tokenization![b];
            var length = Math.Min(t.Count, s);
            var words = new List<Word>();
            foreach (var group in Group(t, length))
            {
                var vector = new float[outDim];
                var row = values.AsSpan(b * s * d);
                var first = row.Slice(group.Tokens[0] * d, d);
                var last = row.Slice(group.Tokens[^1] * d, d);
                switch (mode)
                {
                    case SubwordPooling.First: first.CopyTo(vector); break;
                    case SubwordPooling.Last: last.CopyTo(vector); break;
                    case SubwordPooling.FirstLast:
                        first.CopyTo(vector);
                        last.CopyTo(vector.AsSpan(d));
                        break;
                    case SubwordPooling.Mean:
                        var acc = new double[d];
                        foreach (var tok in group.Tokens)
                        {
                            var r = row.Slice(tok * d, d);
                            for (var k = 0; k < d; k++) acc[k] += r[k];
                        }
                        for (var k = 0; k < d; k++) vector[k] = (float)(acc[k] / group.Tokens.Count);
                        break;
                    default: throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown sub-word pooling.");
                }
                var start = group.Tokens.Min(i => t.Offsets[i].Start);
                var end = group.Tokens.Max(i => t.Offsets[i].End);
                words.Add(new Word(words.Count, group.WordId, group.SequenceId, new TokenOffset(start, end), group.Tokens, vector));
            }
            sentences[b] = new SentenceWords(words, outDim);
        }
        return new WordVectors(sentences, outDim);
    }

    private static IEnumerable<(int WordId, int SequenceId, List<int> Tokens)> Group(TokenizedText t, int length)
    {
        var order = new List<(int, int)>();
        var groups = new Dictionary<(int, int), List<int>>();
        for (var i = 0; i < length; i++)
        {
            if (t.WordIds[i] is not { } w) continue;
            var key = (t.SequenceIds[i] ?? 0, w);
            if (!groups.TryGetValue(key, out var list))
            {
                groups[key] = list = [];
                order.Add(key);
            }
            list.Add(i);
        }
        return order.Select(k => (k.Item2, k.Item1, groups[k]));
    }
}

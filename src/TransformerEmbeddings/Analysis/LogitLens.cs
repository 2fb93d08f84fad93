using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Modeling;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Analysis;

/// <summary>
/// The logit lens: the masked-language-model head applied to every hidden state, not only the last, so each layer's
/// reading of each token can be seen as vocabulary tokens.
/// <code>
/// using var output = model.Encode(["The capital of France is [MASK]."], new CaptureOptions { Kinds = ActivationKind.HiddenStates });
/// foreach (var p in LogitLens.Predict(model.MaskedLanguageModel!, output, topK: 3)) Console.WriteLine($"{p.HiddenState} {p.Position}: {p.Candidates[0].Token}");
/// </code>
/// </summary>
public static class LogitLens
{
    /// <summary>The head's top k tokens at every real token of every row, for each hidden state asked for.</summary>
    /// <param name="head">The model's head (<see cref="TransformerModel.MaskedLanguageModel"/>), exact or fast.</param>
    /// <param name="output">An output of that model with <see cref="ActivationKind.HiddenStates"/> captured for the states asked for.</param>
    /// <param name="topK">Tokens per position.</param>
    /// <param name="hiddenStates">Hidden states (0..L, negative from the end); all of them when null.</param>
    /// <returns>Predictions ordered by hidden state, row and position.</returns>
    /// <exception cref="NotCapturedException">A hidden state asked for was not captured.</exception>
    public static IReadOnlyList<LensPrediction> Predict(MaskedLanguageModel head, EncoderOutput output, int topK = 5, IReadOnlyList<int>? hiddenStates = null)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfLessThan(topK, 1);
        var model = head.Model;
        var layers = model.Config.NumHiddenLayers;
        var states = (hiddenStates ?? Enumerable.Range(0, layers + 1).ToArray()).Select(i => LayerIndex.HiddenState(i, layers, nameof(hiddenStates))).ToArray();
        var rows = new List<(int Sequence, int Position)>();
        for (var b = 0; b < output.BatchSize; b++)
            for (var p = 0; p < output.Length(b); p++)
                rows.Add((b, p));
        var k = Math.Min(topK, model.Config.VocabSize);
        var result = new List<LensPrediction>(states.Length * rows.Count);
        using var scope = NewDisposeScope();
        var mask = output.AttentionMask.to(ScalarType.Bool);
        foreach (var state in states)
        {
            using var inner = NewDisposeScope();
            var logits = head.Apply(output.HiddenState(state)[mask]);       // (N, V), real tokens in row order
            var probabilities = logits.softmax(-1);
            var (values, indices) = logits.topk(k, dim: -1);
            var top = values.data<float>().ToArray();
            var ids = indices.data<long>().ToArray();
            var chosen = probabilities.gather(-1, indices).data<float>().ToArray();
            for (var n = 0; n < rows.Count; n++)
            {
                var candidates = new TokenScore[k];
                for (var j = 0; j < k; j++)
                {
                    var id = (int)ids[n * k + j];
                    candidates[j] = new TokenScore(id, model.Tokenizer.IdToToken(id) ?? "", top[n * k + j], chosen[n * k + j]);
                }
                result.Add(new LensPrediction(state, rows[n].Sequence, rows[n].Position, candidates));
            }
        }
        return result;
    }
}

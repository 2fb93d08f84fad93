using TransformerEmbeddings.Modeling;
using TransformerEmbeddings.Tokenization;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Inspection;

/// <summary>
/// The masked-language-model head a checkpoint saved from <c>BertForMaskedLM</c> (<c>cls.predictions.*</c>) or
/// <c>RobertaForMaskedLM</c> (<c>lm_head.*</c>) carries, its decoder tied to the word embeddings as in HF
/// (<see cref="TransformerModel.MaskedLanguageModel"/>, null for a checkpoint without one).
/// <code>
/// foreach (var p in model.MaskedLanguageModel!.Predict(["The capital of France is [MASK]."]))
///     Console.WriteLine(string.Join(", ", p.Candidates.Select(c => $"{c.Token} {c.Probability:P1}")));
/// </code>
/// </summary>
public sealed class MaskedLanguageModel
{
    private readonly TransformerModel model;
    private readonly MaskedLanguageModelHead head;

    internal MaskedLanguageModel(TransformerModel model, MaskedLanguageModelHead head)
    {
        this.model = model;
        this.head = head;
    }

    /// <summary>The head's module tree (its parameter names are the checkpoint's keys under the head's prefix).</summary>
    internal MaskedLanguageModelHead Head => head;

    /// <summary>The model the head belongs to.</summary>
    internal TransformerModel Model => model;

    /// <summary>The head on any hidden states (…, H) of this model — the logit lens reads earlier layers with it — in the
    /// model's precision (a fast-mode model's head runs on its 12-bit kernels): float32 logits (…, V) the caller owns.</summary>
    internal Tensor Apply(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        return scope.MoveToOuter(head.call(hidden).to(ScalarType.Float32));
    }

    /// <summary>
    /// Vocabulary logits from an output's last hidden state, as HF's <c>*ForMaskedLM</c> computes them: (B, S, V), or
    /// (N, V) at the given rows. A new tensor you own.
    /// </summary>
    /// <param name="output">An output of this model.</param>
    /// <param name="positions">Only these (sequence, position) rows; all positions when null.</param>
    /// <returns>The float32 logits.</returns>
    public Tensor Logits(EncoderOutput output, IReadOnlyList<(int Sequence, int Position)>? positions = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        using var call = model.EnterCall(); // the model's Dispose waits for the head
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var hidden = output.LastHiddenState;
        if (positions is not null)
        {
            var rows = tensor(positions.Select(p => (long)p.Sequence).ToArray(), device: hidden.device);
            var cols = tensor(positions.Select(p => (long)p.Position).ToArray(), device: hidden.device);
            hidden = hidden.index([rows, cols]);                                  // (N, H)
        }
        return scope.MoveToOuter(head.call(hidden).to(ScalarType.Float32));
    }

    /// <summary>Fills in the mask tokens of texts (HF's <c>fill-mask</c>): the top-k candidates for every mask token, in text order.</summary>
    /// <param name="texts">Texts holding the tokenizer's mask token (e.g. <c>[MASK]</c>, <c>&lt;mask&gt;</c>).</param>
    /// <param name="topK">How many candidates per mask.</param>
    /// <returns>One prediction per mask token.</returns>
    /// <exception cref="TokenizerException">The tokenizer has no mask token.</exception>
    public IReadOnlyList<MaskPrediction> Predict(IReadOnlyList<string> texts, int topK = 5)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentOutOfRangeException.ThrowIfLessThan(topK, 1);
        var tokenizer = model.Tokenizer;
        var maskId = tokenizer.MaskTokenId ?? throw new TokenizerException($"The tokenizer of {model.Folder} has no mask token, so there is nothing to fill in.");
        using var output = model.Encode(texts);
        var positions = new List<(int, int)>();
        for (var b = 0; b < output.Tokenization!.Count; b++)
        {
            var ids = output.Tokenization[b].Ids;
            for (var i = 0; i < ids.Count; i++)
                if (ids[i] == maskId) positions.Add((b, i));
        }
        if (positions.Count == 0) return [];
        using var scope = NewDisposeScope();
        var logits = Logits(output, positions);                                   // (N, V)
        var probabilities = logits.softmax(-1);
        var (values, indices) = logits.topk(Math.Min(topK, (int)logits.shape[1]), dim: -1);
        var top = values.data<float>().ToArray();
        var ids2 = indices.data<long>().ToArray();
        var k = (int)values.shape[1];
        var result = new List<MaskPrediction>(positions.Count);
        for (var n = 0; n < positions.Count; n++)
        {
            var candidates = new TokenScore[k];
            for (var j = 0; j < k; j++)
            {
                var id = (int)ids2[n * k + j];
                candidates[j] = new TokenScore(id, tokenizer.IdToToken(id) ?? "", top[n * k + j], probabilities[n, id].item<float>());
            }
            result.Add(new MaskPrediction(positions[n].Item1, positions[n].Item2, candidates));
        }
        return result;
    }
}

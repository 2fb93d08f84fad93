using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using TransformerEmbeddings.Runtime;

namespace TransformerEmbeddings.Cli.Commands;

/// <summary>
/// <c>te fill-mask --model DIR --text "The capital of France is &lt;mask&gt;." [--k 5] [--json]</c>: the MLM head's top k
/// tokens for each mask, with probabilities, as transformers' fill-mask pipeline prints them.
/// </summary>
internal static class FillMaskCommand
{
    public static Command Create()
    {
        var model = ModelSource.ModelOption("A *ForMaskedLM model (BERT, RoBERTa)");
        var revision = ModelSource.RevisionOption();
        var text = new Option<string>("--text") { Description = "The text with one or more mask tokens ([MASK] or <mask>; either spelling is taken for the model's own).", Required = true };
        var k = new Option<int>("--k", "-k") { Description = "Candidates per mask.", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "Print [{\"score\", \"token\", \"token_str\", \"sequence\"}, ...] per mask (the fill-mask pipeline's fields)." };
        var precision = new Option<Precision>("--precision") { Description = "float32 (exact, default) or fast.", DefaultValueFactory = _ => Precision.Float32 };
        var command = new Command("fill-mask", "Predict the masked tokens of a text with the model's MLM head. Exit codes as te embed.")
        {
            model, text, k, json, precision, revision,
        };
        command.SetAction(parse => CommandRunner.Run(() =>
        {
            var topK = parse.GetValue(k);
            if (topK < 1) throw new CliException("--k must be at least 1.");
            using var m = TransformerModel.Load(ModelSource.Resolve(parse, model, revision), new ModelOptions { Precision = parse.GetValue(precision) });
            var head = m.MaskedLanguageModel ?? throw new CliException($"{m.Folder} has no masked-language-model head; use a *ForMaskedLM checkpoint.");
            var mask = m.Tokenizer.MaskToken ?? throw new CliException($"the tokenizer of {m.Folder} has no mask token.");
            var input = WithMask(parse.GetValue(text)!, mask);
            var predictions = head.Predict([input], topK);
            if (predictions.Count == 0) throw new CliException($"the text has no mask token; write {mask} where a word is missing.");
            var tokens = m.Tokenizer.Encode(input).Ids;
            var results = predictions.Select(p => p.Candidates.Select(c =>
            {
                var filled = tokens.ToArray();
                filled[p.Position] = c.Id;
                return (Score: c.Probability, Token: c.Id, TokenStr: m.Tokenizer.Decode([c.Id]), Sequence: m.Tokenizer.Decode(filled));
            }).ToList()).ToList();
            if (parse.GetValue(json))
            {
                object shaped = results.Count == 1 ? Rows(results[0]) : results.Select(Rows).ToList();
                Console.Out.WriteLine(JsonSerializer.Serialize(shaped, new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
                return 0;
            }
            for (var i = 0; i < results.Count; i++)
            {
                Console.Out.WriteLine($"mask {i + 1} (token {predictions[i].Position}):");
                foreach (var r in results[i])
                    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {r.Score,8:P2}  {r.TokenStr,-16} {r.Sequence}"));
            }
            return 0;
        }));
        return command;
    }

    private static List<Dictionary<string, object>> Rows(List<(float Score, int Token, string TokenStr, string Sequence)> rows) =>
        rows.Select(r => new Dictionary<string, object> { ["score"] = r.Score, ["token"] = r.Token, ["token_str"] = r.TokenStr, ["sequence"] = r.Sequence }).ToList();

    /// <summary>The text with the other common mask spelling replaced by the model's own (so one command line serves BERT and RoBERTa).</summary>
    internal static string WithMask(string text, string mask)
    {
        if (text.Contains(mask, StringComparison.Ordinal)) return text;
        foreach (var other in new[] { "[MASK]", "<mask>" })
            if (other != mask && text.Contains(other, StringComparison.Ordinal)) return text.Replace(other, mask, StringComparison.Ordinal);
        return text;
    }
}

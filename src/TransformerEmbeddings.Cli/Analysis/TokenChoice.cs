using System.CommandLine;
using TransformerEmbeddings.Analysis;

namespace TransformerEmbeddings.Cli.Analysis;

/// <summary>The options that pick one token of a text (<c>--token INDEX</c> or <c>--word TEXT</c>) and the metric option, shared by te nearest and te plot nearest.</summary>
internal sealed class TokenChoice
{
    public Option<int?> Token { get; } = new("--token") { Description = "The token index, special tokens included (0 is [CLS]/<s>)." };

    public Option<string?> Word { get; } = new("--word") { Description = "A word of the text: its first occurrence's first token (matched on the tokenizer's word ids)." };

    public Option<string?> Metric { get; } = new("--metric") { Description = "cosine or euclidean (default: both)." };

    public void AddTo(Command command)
    {
        command.Options.Add(Token);
        command.Options.Add(Word);
        command.Options.Add(Metric);
    }

    /// <summary>The chosen token's index in row 0 of <paramref name="output"/>.</summary>
    public int Resolve(ParseResult parse, EncoderOutput output, string text)
    {
        var (token, word) = (parse.GetValue(Token), parse.GetValue(Word));
        if (token.HasValue == (word is not null)) throw new CliException("give exactly one of --token INDEX and --word TEXT.");
        var length = output.Length(0);
        if (token is { } index)
        {
            if (index < 0 || index >= length) throw new CliException($"--token {index} is outside the text's {length} tokens (0..{length - 1}).");
            return index;
        }
        return FindWord(output, text, word!) ?? throw new CliException($"--word '{word}' is not a word of the text (words: {string.Join(", ", Words(output, text).Select(w => $"'{w.Text}'"))}).");
    }

    public DistanceMetric Metrics(ParseResult parse) => parse.GetValue(Metric)?.ToLowerInvariant() switch
    {
        null => DistanceMetric.Both,
        "cosine" => DistanceMetric.Cosine,
        "euclidean" => DistanceMetric.Euclidean,
        var other => throw new CliException($"unknown --metric '{other}'; use cosine or euclidean."),
    };

    /// <summary>The first token of the first word whose text is <paramref name="word"/> (exactly, else ignoring case).</summary>
    internal static int? FindWord(EncoderOutput output, string text, string word)
    {
        var words = Words(output, text).ToList();
        var match = words.FirstOrDefault(w => w.Text == word) ?? words.FirstOrDefault(w => string.Equals(w.Text, word, StringComparison.OrdinalIgnoreCase));
        return match?.FirstToken;
    }

    private sealed record WordSpan(string Text, int FirstToken);

    /// <summary>The words of row 0 (made from <paramref name="text"/>), in order: each word id's tokens' character span.</summary>
    private static IEnumerable<WordSpan> Words(EncoderOutput output, string text)
    {
        var t = output.Tokenization?[0] ?? throw new CliException("the output has no tokenization.");
        var seen = new HashSet<int>();
        for (var i = 0; i < t.Count; i++)
        {
            if (t.WordIds[i] is not { } w || t.SequenceIds[i] != 0 || !seen.Add(w)) continue;
            var (start, end) = (t.Offsets[i].Start, t.Offsets[i].End);
            for (var j = i + 1; j < t.Count; j++)
                if (t.WordIds[j] == w && t.SequenceIds[j] == 0) end = Math.Max(end, t.Offsets[j].End);
            if (end <= text.Length) yield return new WordSpan(text[start..end], i);
        }
    }
}

using TransformerEmbeddings.Modeling;

namespace TransformerEmbeddings.Cli;

/// <summary>
/// The one syntax of <c>--layers</c> (te dump: layers, 0..L-1) and <c>--hidden-states</c> (te embed: hidden states, 0..L):
/// comma-separated indices and inclusive ranges, negative from the end, e.g. <c>0,-1</c> or <c>-4..-1</c>. Parsed when
/// the option is read; resolved once the model (and so the count) is known.
/// </summary>
internal sealed class IndexList
{
    private readonly List<(int From, int To)> items;
    private readonly string option;
    private readonly string text;

    private IndexList(string option, string text, List<(int, int)> items)
    {
        this.option = option;
        this.text = text;
        this.items = items;
    }

    /// <summary>Reads the option's text; null stays null (the command's default).</summary>
    /// <exception cref="CliException">It is not a list of integers and ranges.</exception>
    public static IndexList? Parse(string option, string? text)
    {
        if (text is null) return null;
        var items = new List<(int, int)>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var ends = part.Split("..", StringSplitOptions.TrimEntries);
            if (ends.Length > 2) throw Bad(option, text, part);
            var from = Int(option, text, ends[0]);
            items.Add((from, ends.Length == 2 ? Int(option, text, ends[1]) : from));
        }
        if (items.Count == 0) throw new CliException($"{option}: name at least one index.");
        return new IndexList(option, text, items);
    }

    /// <summary>The layers, 0..L-1, in the order given (a range ascending).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An index does not exist.</exception>
    public int[] Layers(int layers) => Resolve(i => LayerIndex.Layer(i, layers, option));

    /// <summary>The hidden states, 0..L, in the order given (a range ascending).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An index does not exist.</exception>
    public int[] HiddenStates(int layers) => Resolve(i => LayerIndex.HiddenState(i, layers, option));

    private int[] Resolve(Func<int, int> resolve)
    {
        var result = new List<int>();
        foreach (var (from, to) in items)
        {
            var (a, b) = (resolve(from), resolve(to));
            if (b < a) throw new CliException($"{option} '{text}': the range {from}..{to} runs backwards.");
            for (var i = a; i <= b; i++) result.Add(i);
        }
        return result.ToArray();
    }

    private static int Int(string option, string text, string s) =>
        int.TryParse(s, out var i) ? i : throw Bad(option, text, s);

    private static CliException Bad(string option, string text, string part) =>
        new($"{option} '{text}': '{part}' is neither an integer nor a range such as -4..-1.");
}

using System.Buffers;
using System.Text.RegularExpressions;

namespace TransformerEmbeddings.Tokenization;

/// <summary>
/// The pattern of HF's <c>Replace</c> normalizer and decoder: <c>{"String": ...}</c> (a literal, matched
/// leftmost-first without overlaps) or <c>{"Regex": ...}</c>. HF runs regexes on Oniguruma; here they run on .NET's
/// engine, which agrees for the patterns tokenizer files use (literal chars, classes of literal chars, quantifiers);
/// Unicode classes such as \s or \w may differ at the edges.
/// </summary>
internal sealed class ReplacePattern
{
    private readonly int[]? _literal;
    private readonly Regex? _regex;

    private ReplacePattern(int[]? literal, Regex? regex)
    {
        _literal = literal;
        _regex = regex;
    }

    public static ReplacePattern Literal(string text) =>
        new(NormalizedText.FromText(text, 0, text.Length).Select(c => c.Cp).ToArray(), null);

    public static ReplacePattern FromRegex(string pattern, string source)
    {
        try
        {
            // The pattern comes from the file and the text from anywhere: the non-backtracking engine matches in time linear
            // in the text (a pattern such as (a+)+$ cannot hang a call), with the backtracking engine's matches.
            return new ReplacePattern(null, new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking));
        }
        catch (NotSupportedException e)
        {
            throw new TokenizerException($"{source}: the Replace regex '{pattern}' uses a construct (a backreference, a lookaround, an atomic group) " +
                                         $"that cannot be matched in linear time, so it is not supported ({e.Message}).", e);
        }
        catch (ArgumentException e)
        {
            throw new TokenizerException($"{source}: the Replace regex '{pattern}' is not supported ({e.Message}).", e);
        }
    }

    /// <summary>Appends the matches in <paramref name="chars"/> as [start, end) code point ranges.</summary>
    public void FindMatches(ReadOnlySpan<NChar> chars, List<(int Start, int End)> matches)
    {
        if (_literal != null)
        {
            var p = _literal;
            if (p.Length == 0) return;
            var i = 0;
            while (i + p.Length <= chars.Length)
            {
                var k = 0;
                while (k < p.Length && chars[i + k].Cp == p[k]) k++;
                if (k == p.Length)
                {
                    matches.Add((i, i + p.Length));
                    i += p.Length;
                }
                else
                {
                    i++;
                }
            }

            return;
        }

        // UTF-16 copy of the chars, and for each UTF-16 index the code point it starts (for mapping matches back).
        var text = ArrayPool<char>.Shared.Rent(2 * chars.Length + 1);
        var cpIndex = ArrayPool<int>.Shared.Rent(2 * chars.Length + 1);
        try
        {
            var n = 0;
            for (var i = 0; i < chars.Length; i++)
            {
                var cp = chars[i].Cp;
                cpIndex[n] = i;
                if (cp < 0x10000)
                {
                    text[n++] = (char)cp;
                }
                else
                {
                    new System.Text.Rune(cp).EncodeToUtf16(text.AsSpan(n));
                    cpIndex[n + 1] = i;
                    n += 2;
                }
            }

            cpIndex[n] = chars.Length;
            foreach (var m in _regex!.EnumerateMatches(text.AsSpan(0, n)))
                matches.Add((cpIndex[m.Index], cpIndex[m.Index + m.Length]));
        }
        finally
        {
            ArrayPool<char>.Shared.Return(text);
            ArrayPool<int>.Shared.Return(cpIndex);
        }
    }

    /// <summary>HF's Replace decoder on one token: every match replaced by <paramref name="content"/>.</summary>
    public string ReplaceIn(string token, string content)
    {
        if (_regex != null) return _regex.Replace(token, content.Replace("$", "$$", StringComparison.Ordinal));
        var literal = string.Concat(_literal!.Select(char.ConvertFromUtf32));
        return literal.Length == 0 ? token : token.Replace(literal, content, StringComparison.Ordinal);
    }
}

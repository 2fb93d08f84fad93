using System.Collections;
using TransformerEmbeddings.Tokenization;

namespace TransformerEmbeddings.Pooling;

/// <summary>One word's vector and where the word is.</summary>
/// <param name="Index">The word's position in its sentence's list (0-based, in text order; pairs: first text, then second).</param>
/// <param name="WordId">The tokenizer's word id (restarts at 0 in the second text of a pair).</param>
/// <param name="SequenceId">0 for the first text, 1 for the second text of a pair.</param>
/// <param name="Span">The UTF-16 character span [Start, End) of the word in its text.</param>
/// <param name="TokenIndices">The positions of its sub-word tokens in the row.</param>
/// <param name="Vector">The pooled vector.</param>
public sealed record Word(int Index, int WordId, int SequenceId, TokenOffset Span, IReadOnlyList<int> TokenIndices, float[] Vector)
{
    /// <summary>The word's text, cut from the string the row was encoded from.</summary>
    /// <param name="sourceText">The input text (the first or second text of a pair, as <see cref="SequenceId"/> says).</param>
    /// <returns>The substring.</returns>
    public string TextIn(string sourceText)
    {
        ArgumentNullException.ThrowIfNull(sourceText);
        return sourceText[Span.Start..Span.End];
    }
}

/// <summary>The word vectors of every sentence of a batch.</summary>
public sealed class WordVectors : IReadOnlyList<SentenceWords>
{
    private readonly SentenceWords[] sentences;

    internal WordVectors(SentenceWords[] sentences, int dimension)
    {
        this.sentences = sentences;
        Dimension = dimension;
    }

    /// <summary>The length of every word vector.</summary>
    public int Dimension { get; }

    /// <summary>The number of sentences (B).</summary>
    public int Count => sentences.Length;

    /// <summary>The words of sentence <paramref name="index"/>.</summary>
    /// <param name="index">The row.</param>
    public SentenceWords this[int index] => sentences[index];

    /// <inheritdoc/>
    public IEnumerator<SentenceWords> GetEnumerator() => ((IEnumerable<SentenceWords>)sentences).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>The word vectors of one sentence, in text order, with selection by word id, character span or text.</summary>
public sealed class SentenceWords : IReadOnlyList<Word>
{
    private readonly List<Word> words;

    internal SentenceWords(List<Word> words, int dimension)
    {
        this.words = words;
        Dimension = dimension;
    }

    /// <summary>The length of every word vector.</summary>
    public int Dimension { get; }

    /// <summary>The number of words.</summary>
    public int Count => words.Count;

    /// <summary>Word <paramref name="index"/> in text order.</summary>
    /// <param name="index">0..Count-1.</param>
    public Word this[int index] => words[index];

    /// <summary>The word with the tokenizer's word id <paramref name="wordId"/>.</summary>
    /// <param name="wordId">The word id.</param>
    /// <param name="sequenceId">0 for the first text, 1 for the second text of a pair.</param>
    /// <returns>The word.</returns>
    /// <exception cref="ArgumentOutOfRangeException">No such word (it may have been truncated away).</exception>
    public Word ByWordId(int wordId, int sequenceId = 0) =>
        words.Find(w => w.WordId == wordId && w.SequenceId == sequenceId)
        ?? throw new ArgumentOutOfRangeException(nameof(wordId), wordId, $"Text {sequenceId} has no word {wordId} (words: {words.Count(w => w.SequenceId == sequenceId)}).");

    /// <summary>Every word that overlaps the UTF-16 character span [<paramref name="start"/>, <paramref name="end"/>).</summary>
    /// <param name="start">First character.</param>
    /// <param name="end">One past the last character.</param>
    /// <param name="sequenceId">0 for the first text, 1 for the second text of a pair.</param>
    /// <returns>The words, in text order (empty when none).</returns>
    public IReadOnlyList<Word> InSpan(int start, int end, int sequenceId = 0)
    {
        if (end < start) throw new ArgumentException($"The span [{start}, {end}) ends before it starts.", nameof(end));
        return words.Where(w => w.SequenceId == sequenceId && w.Span.Start < Math.Max(end, start + 1) && start < w.Span.End).ToList();
    }

    /// <summary>
    /// The words covering every occurrence of <paramref name="text"/> in <paramref name="sourceText"/> (the string this row
    /// was encoded from): one list per occurrence, in text order. An occurrence inside a word selects that whole word.
    /// </summary>
    /// <param name="sourceText">The input text of this row (or of the pair's text <paramref name="sequenceId"/>).</param>
    /// <param name="text">What to look for.</param>
    /// <param name="sequenceId">0 for the first text, 1 for the second text of a pair.</param>
    /// <param name="comparison">How to compare; ordinal by default.</param>
    /// <returns>Per occurrence, its words (occurrences in a truncated part have none and are left out).</returns>
    public IReadOnlyList<IReadOnlyList<Word>> Occurrences(string sourceText, string text, int sequenceId = 0, StringComparison comparison = StringComparison.Ordinal)
    {
        ArgumentNullException.ThrowIfNull(sourceText);
        ArgumentException.ThrowIfNullOrEmpty(text);
        var result = new List<IReadOnlyList<Word>>();
        for (var at = sourceText.IndexOf(text, comparison); at >= 0; at = at + 1 > sourceText.Length ? -1 : sourceText.IndexOf(text, at + 1, comparison))
        {
            var found = InSpan(at, at + text.Length, sequenceId);
            if (found.Count > 0) result.Add(found);
        }
        return result;
    }

    /// <summary>Every word that overlaps an occurrence of <paramref name="text"/> in <paramref name="sourceText"/>, once each, in text order.</summary>
    /// <param name="sourceText">The input text of this row.</param>
    /// <param name="text">What to look for.</param>
    /// <param name="sequenceId">0 for the first text, 1 for the second text of a pair.</param>
    /// <param name="comparison">How to compare; ordinal by default.</param>
    /// <returns>The words.</returns>
    public IReadOnlyList<Word> Find(string sourceText, string text, int sequenceId = 0, StringComparison comparison = StringComparison.Ordinal) =>
        Occurrences(sourceText, text, sequenceId, comparison).SelectMany(o => o).Distinct().OrderBy(w => w.Index).ToList();

    /// <summary>Copies every word vector.</summary>
    /// <returns>Count arrays of <see cref="Dimension"/> values.</returns>
    public float[][] ToArray() => words.Select(w => (float[])w.Vector.Clone()).ToArray();

    /// <summary>The word vectors as (words, D) embeddings.</summary>
    /// <returns>New embeddings.</returns>
    public Embeddings ToEmbeddings()
    {
        var data = new float[words.Count * Dimension];
        for (var i = 0; i < words.Count; i++) words[i].Vector.CopyTo(data, i * Dimension);
        return new Embeddings(data, words.Count, Dimension);
    }

    /// <inheritdoc/>
    public IEnumerator<Word> GetEnumerator() => words.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

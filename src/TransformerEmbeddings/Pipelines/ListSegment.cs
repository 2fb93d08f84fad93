using System.Collections;

namespace TransformerEmbeddings.Pipelines;

/// <summary>A window of a list, without copying it.</summary>
internal sealed class ListSegment<T>(IReadOnlyList<T> list, int start, int count) : IReadOnlyList<T>
{
    public T this[int index] => (uint)index < (uint)count ? list[start + index] : throw new ArgumentOutOfRangeException(nameof(index));

    public int Count => count;

    public IEnumerator<T> GetEnumerator()
    {
        for (var i = 0; i < count; i++) yield return list[start + i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

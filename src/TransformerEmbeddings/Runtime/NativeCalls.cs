using System.IO.MemoryMappedFiles;

namespace TransformerEmbeddings.Runtime;

/// <summary>
/// Makes the native calls a model load needs once, before libtorch starts loading. Loading a shared library runs its
/// static initialisers under the dynamic loader's lock, and .NET binds each native entry point on its first call
/// (<c>dlsym</c>, which takes the same lock), so the first <c>lseek</c> (a <see cref="FileStream"/>'s handle handed
/// out), <c>pread</c>, <c>mmap</c> or <c>madvise</c> made while libtorch loads waits for all of it (0.4–0.5 s,
/// measured): the checkpoint would be opened and checked, and the kernels readied, only after libtorch instead of
/// beside it. A call missed here only waits as before.
/// </summary>
internal static class NativeCalls
{
    private static int bound;

    /// <summary>Binds the calls once per process, the file calls on <paramref name="path"/> (any readable file).</summary>
    public static unsafe void Bind(string path)
    {
        if (Interlocked.Exchange(ref bound, 1) != 0) return;
        Kernels.ExecutableCode.Bind();
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists || info.Length == 0) return;
            _ = info.LinkTarget;
            _ = Directory.Exists(info.DirectoryName);
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 1, FileOptions.None);
            _ = stream.Length;
            var handle = stream.SafeFileHandle; // exposing the handle seeks the descriptor (lseek)
            Span<byte> one = stackalloc byte[1];
            _ = RandomAccess.Read(handle, one, 0);
            using var mapping = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
            using var view = mapping.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            try
            {
                Pages.Bind(p + view.PointerOffset);
            }
            finally
            {
                view.SafeMemoryMappedViewHandle.ReleasePointer();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            // Only a head start.
        }
    }
}

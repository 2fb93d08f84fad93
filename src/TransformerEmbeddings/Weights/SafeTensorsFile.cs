using System.IO.MemoryMappedFiles;

namespace TransformerEmbeddings.Weights;

/// <summary>
/// A safetensors file opened read-only through a memory mapping. <see cref="Open"/> validates the whole header and the
/// file's layout before any tensor data is touched; afterwards every tensor is a zero-copy view into the mapping.
/// </summary>
/// <remarks>
/// Spans and pointers handed out stay valid until <see cref="Dispose"/>. The instance is safe for concurrent reads.
/// The file is opened with <see cref="FileShare.Read"/> | <see cref="FileShare.Delete"/>: other readers are fine, and a
/// writer may atomically replace the path (the mapping keeps the old contents alive).
/// </remarks>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private readonly MemoryMappedFile _mapping;
    private readonly MemoryMappedViewAccessor _view;
    private readonly SafeTensorsHeader _header;
    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _handle;
    private byte* _base;
    private int _disposed;

    private SafeTensorsFile(string path, long fileLength, MemoryMappedFile mapping, MemoryMappedViewAccessor view,
        byte* basePointer, SafeTensorsHeader header, Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        _handle = handle;
        FilePath = path;
        FileLength = fileLength;
        _mapping = mapping;
        _view = view;
        _base = basePointer;
        _header = header;
    }

    /// <summary>The full path of the file.</summary>
    public string FilePath { get; }

    /// <summary>The file's length in bytes.</summary>
    public long FileLength { get; }

    /// <summary>Where the data section begins in the file (8 + the header length).</summary>
    public long DataStart => _header.DataStart;

    /// <summary>Every tensor, in the order the header lists them.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors => _header.Tensors;

    /// <summary>The header's <c>__metadata__</c> string map (for example <c>format: pt</c>); empty when absent.</summary>
    public IReadOnlyDictionary<string, string> Metadata => _header.Metadata;

    /// <summary>Opens, maps and validates a safetensors file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The open file; dispose it to unmap.</returns>
    /// <exception cref="SafeTensorsException">The file breaks a format rule (see <see cref="SafeTensorsErrorKind"/>) or
    /// cannot be opened (<see cref="SafeTensorsErrorKind.IoError"/>).</exception>
    public static SafeTensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath;
        try
        {
            fullPath = Path.GetFullPath(path);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new SafeTensorsException(path, SafeTensorsErrorKind.IoError, null, $"the path is not usable: {ex.Message}", ex);
        }

        FileStream? stream = null;
        MemoryMappedFile? mapping = null;
        MemoryMappedViewAccessor? view = null;
        var acquired = false;
        try
        {
            long length;
            try
            {
                stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete,
                    bufferSize: 1, FileOptions.None);
                length = stream.Length;
            }
            catch (Exception ex) when (IsIo(ex))
            {
                throw new SafeTensorsException(fullPath, SafeTensorsErrorKind.IoError, null,
                    $"the file could not be opened: {ex.Message}", ex);
            }

            if (length < 8)
            {
                // Checked before mapping: an empty file cannot be mapped at all.
                SafeTensorsHeader.Parse(ReadOnlySpan<byte>.Empty, length, fullPath);
                throw new InvalidOperationException("unreachable: a file under 8 bytes always fails to parse.");
            }

            byte* basePointer = null;
            var handle = stream.SafeFileHandle; // open for as long as the mapping that takes the stream
            try
            {
                mapping = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: 0,
                    MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
                stream = null; // owned by the mapping now
                view = mapping.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
                view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePointer);
                acquired = true;
                basePointer += view.PointerOffset;
                if ((long)view.SafeMemoryMappedViewHandle.ByteLength - view.PointerOffset < length)
                    throw new IOException(
                        $"the mapping covers {(long)view.SafeMemoryMappedViewHandle.ByteLength - view.PointerOffset} bytes, fewer than the file's {length}.");
            }
            catch (Exception ex) when (IsIo(ex))
            {
                throw new SafeTensorsException(fullPath, SafeTensorsErrorKind.IoError, null,
                    $"the file could not be memory-mapped: {ex.Message}", ex);
            }

            var headLength = (int)Math.Min(length, 8 + SafeTensorsHeader.MaxHeaderLength);
            var header = SafeTensorsHeader.Parse(new ReadOnlySpan<byte>(basePointer, headLength), length, fullPath);
            return new SafeTensorsFile(fullPath, length, mapping, view, basePointer, header, handle);
        }
        catch
        {
            if (acquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            mapping?.Dispose();
            stream?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A path that opens the very file this instance validated, for code that maps it again by name (libtorch's
    /// <c>from_file</c>): its descriptor's entry in <c>/proc/self/fd</c> (Linux) or <c>/dev/fd</c> (macOS), so a file renamed
    /// over <see cref="FilePath"/> since <see cref="Open"/> is not what gets mapped; elsewhere the path itself.
    /// </summary>
    internal string SameFilePath
    {
        get
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            var descriptor = _handle.DangerousGetHandle().ToInt64();
            if (OperatingSystem.IsLinux() && Directory.Exists("/proc/self/fd")) return $"/proc/self/fd/{descriptor}";
            if (OperatingSystem.IsMacOS() && Directory.Exists("/dev/fd")) return $"/dev/fd/{descriptor}";
            return FilePath;
        }
    }

    /// <summary>Copies bytes of the very file this instance validated, from <paramref name="offset"/> (from the file's
    /// start), into <paramref name="buffer"/> with <c>pread</c>: no page of the mapping is touched.</summary>
    /// <returns>The number of bytes read (fewer only at the end of the file).</returns>
    internal int Read(long offset, Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        int total = 0;
        while (total < buffer.Length)
        {
            var n = RandomAccess.Read(_handle, buffer[total..], offset + total);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    /// <summary>Looks a tensor up by name (ordinal comparison).</summary>
    /// <param name="name">The tensor name.</param>
    /// <param name="info">Its description when found.</param>
    /// <returns>True when the file holds the tensor.</returns>
    public bool TryGetTensor(string name, out SafeTensorInfo info)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_header.ByName.TryGetValue(name, out var found))
        {
            info = found;
            return true;
        }

        info = null!;
        return false;
    }

    /// <summary>Looks a tensor up by name, failing with <see cref="SafeTensorsErrorKind.MissingTensor"/>.</summary>
    /// <param name="name">The tensor name.</param>
    /// <returns>Its description.</returns>
    /// <exception cref="SafeTensorsException">The file has no such tensor.</exception>
    public SafeTensorInfo GetTensor(string name)
    {
        if (TryGetTensor(name, out var info)) return info;
        throw new SafeTensorsException(FilePath, SafeTensorsErrorKind.MissingTensor, name,
            $"the file has no tensor of that name ({_header.Tensors.Count} tensors present).");
    }

    /// <summary>The raw little-endian bytes of a tensor: a zero-copy view into the mapping, valid until
    /// <see cref="Dispose"/>.</summary>
    /// <param name="name">The tensor name.</param>
    /// <returns>Exactly <see cref="SafeTensorInfo.ByteLength"/> bytes.</returns>
    /// <exception cref="SafeTensorsException">The tensor is missing, or larger than 2 GiB.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public ReadOnlySpan<byte> GetBytes(string name) => GetBytes(GetTensor(name));

    /// <summary>The raw bytes of a tensor of this file (as listed in <see cref="Tensors"/>).</summary>
    /// <param name="info">A description obtained from this file.</param>
    /// <returns>Exactly <see cref="SafeTensorInfo.ByteLength"/> bytes.</returns>
    /// <exception cref="SafeTensorsException">The tensor is larger than 2 GiB.</exception>
    /// <exception cref="ArgumentException"><paramref name="info"/> does not describe a tensor of this file.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public ReadOnlySpan<byte> GetBytes(SafeTensorInfo info)
    {
        var p = GetPointer(info);
        if (info.ByteLength > int.MaxValue)
            throw new SafeTensorsException(FilePath, SafeTensorsErrorKind.TensorTooLarge, info.Name,
                $"the tensor is {info.ByteLength} bytes, more than a span can hold ({int.MaxValue}); use GetPointer.");
        return new ReadOnlySpan<byte>(p, (int)info.ByteLength);
    }

    /// <summary>The address of a tensor's first byte inside the mapping, for native copies of
    /// <see cref="SafeTensorInfo.ByteLength"/> bytes. Valid until <see cref="Dispose"/>.</summary>
    /// <param name="info">A description obtained from this file.</param>
    /// <returns>The address; for an empty tensor it may point at the end of the mapping and must not be read.</returns>
    /// <exception cref="ArgumentException"><paramref name="info"/> does not describe a tensor of this file.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public byte* GetPointer(SafeTensorInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (!_header.ByName.TryGetValue(info.Name, out var own) || !own.Equals(info))
            throw new ArgumentException($"'{SafeTensorsException.Shorten(info.Name)}' at [{info.ByteOffset}, " +
                                        $"{info.ByteOffset + info.ByteLength}) is not a tensor of '{FilePath}'.", nameof(info));
        return _base + _header.DataStart + own.ByteOffset;
    }

    /// <summary>The same address as <see cref="GetPointer"/>, as a native integer for callers without unsafe code
    /// (for example <c>torch.from_blob</c>-style APIs or <see cref="System.Runtime.InteropServices.Marshal"/>).</summary>
    /// <param name="info">A description obtained from this file.</param>
    /// <returns>The address of the tensor's first byte.</returns>
    /// <exception cref="ArgumentException"><paramref name="info"/> does not describe a tensor of this file.</exception>
    /// <exception cref="ObjectDisposedException">The file was disposed.</exception>
    public nint GetAddress(SafeTensorInfo info) => (nint)GetPointer(info);

    /// <summary>Reads a floating-point tensor (F32, F16, BF16 or F64) as a new float32 array.</summary>
    /// <param name="name">The tensor name.</param>
    /// <returns>The values, converted with <see cref="DTypeConversion.ToFloat32(ReadOnlySpan{byte}, SafeTensorsDType, Span{float})"/>.</returns>
    /// <exception cref="SafeTensorsException">The tensor is missing, too large, or not of a floating-point dtype.</exception>
    public float[] ReadFloat32(string name)
    {
        var info = GetTensor(name);
        if (!DTypeConversion.CanConvertToFloat32(info.DType))
            throw new SafeTensorsException(FilePath, SafeTensorsErrorKind.UnsupportedConversion, name,
                $"dtype {info.DType.ToHeaderString()} cannot be read as float32; expected F32, F16, BF16 or F64.");
        return DTypeConversion.ToFloat32Array(GetBytes(info), info.DType);
    }

    /// <summary>Unmaps the file. Spans and pointers obtained earlier become invalid.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _base = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _mapping.Dispose();
    }

    private static bool IsIo(Exception ex) =>
        ex is IOException or UnauthorizedAccessException or NotSupportedException or System.Security.SecurityException;
}

namespace TransformerEmbeddings.Weights;

/// <summary>Which rule a safetensors file (or a write request) broke. See docs/safetensors.md.</summary>
public enum SafeTensorsErrorKind
{
    /// <summary>The file is shorter than the 8-byte header-length prefix.</summary>
    FileTooSmall,

    /// <summary>The declared header length exceeds 100,000,000 bytes.</summary>
    HeaderTooLarge,

    /// <summary>The declared header extends past the end of the file.</summary>
    HeaderOutOfBounds,

    /// <summary>The header bytes are not valid UTF-8.</summary>
    HeaderNotUtf8,

    /// <summary>The header is not a single JSON object (it must start with <c>{</c>; only whitespace may follow it).</summary>
    HeaderNotJson,

    /// <summary>A tensor entry is not an object with exactly <c>dtype</c> (string), <c>shape</c> (array of integers) and
    /// <c>data_offsets</c> (array of two non-negative integers, begin ≤ end), or a tensor name is unusable.</summary>
    InvalidHeaderEntry,

    /// <summary>A <c>dtype</c> string is not one of the supported types.</summary>
    UnknownDType,

    /// <summary>Two tensors share a name (in a header, or in a write request).</summary>
    DuplicateName,

    /// <summary>A shape has a negative or non-integer dimension, too many dimensions, or an element count / byte size
    /// that overflows a 64-bit integer.</summary>
    InvalidShape,

    /// <summary>A tensor's byte length (end − begin, or the data handed to the writer) differs from elements × element size.</summary>
    SizeMismatch,

    /// <summary>Sorted by offset, the tensors do not tile the data section: the first does not begin at 0, or one does
    /// not begin where the previous one ends (a hole or an overlap).</summary>
    OffsetsNotContiguous,

    /// <summary>The tensors' data extends past the end of the file.</summary>
    DataPastEndOfFile,

    /// <summary>Bytes follow the last tensor's data: the data section must end exactly at the end of the file.</summary>
    TrailingData,

    /// <summary><c>__metadata__</c> is not an object mapping strings to strings (or has a repeated key).</summary>
    InvalidMetadata,

    /// <summary>A tensor asked for by name is not in the file.</summary>
    MissingTensor,

    /// <summary>A tensor is too large for a <see cref="ReadOnlySpan{T}"/> (over 2 GiB); use the pointer API instead.</summary>
    TensorTooLarge,

    /// <summary>A tensor's dtype cannot be converted as asked (for example an integer tensor read as float32).</summary>
    UnsupportedConversion,

    /// <summary>The file could not be opened, read, mapped or written (missing file, permissions, disk full…).</summary>
    IoError,
}

namespace TransformerEmbeddings.Hub;

/// <summary>How far a model download has come: the file in flight and the whole download.</summary>
/// <param name="Model">The model id.</param>
/// <param name="File">The repository file being fetched (e.g. <c>model.safetensors</c>).</param>
/// <param name="FileBytes">Bytes of that file on disk so far (a resumed download starts above zero).</param>
/// <param name="FileSize">That file's size.</param>
/// <param name="Bytes">Bytes of every file to fetch on disk so far.</param>
/// <param name="TotalBytes">Bytes of every file to fetch; files already in the cache are not counted.</param>
/// <param name="FilesDone">Files finished.</param>
/// <param name="FileCount">Files to fetch.</param>
public sealed record DownloadProgress(string Model, string File, long FileBytes, long FileSize, long Bytes, long TotalBytes, int FilesDone, int FileCount);

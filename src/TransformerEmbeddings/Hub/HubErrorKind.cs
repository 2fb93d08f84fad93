namespace TransformerEmbeddings.Hub;

/// <summary>Why a model could not be found, fetched or read from the HuggingFace cache. See docs/hub.md.</summary>
public enum HubErrorKind
{
    /// <summary>The text is neither an existing folder nor a model id (<c>org/name</c>, optional <c>@revision</c>).</summary>
    InvalidModelId,

    /// <summary>The Hub has no such model (or it is private and no token with access was sent).</summary>
    RepositoryNotFound,

    /// <summary>The model has no such branch, tag or commit.</summary>
    RevisionNotFound,

    /// <summary>A file the model needs is listed but the Hub does not serve it.</summary>
    FileNotFound,

    /// <summary>The model is gated or private and the token is missing or has no access (HTTP 401/403).</summary>
    AccessDenied,

    /// <summary>The Hub could not be reached, or the connection failed and kept failing.</summary>
    NetworkUnavailable,

    /// <summary>Offline mode is on and the cache lacks the revision or one of its files.</summary>
    NotInCache,

    /// <summary>A downloaded file's content does not match the hash the Hub gave for it.</summary>
    IntegrityCheckFailed,

    /// <summary>The cache's disk has no room for the download.</summary>
    DiskFull,

    /// <summary>The Hub answered with a server error or with something this library cannot read.</summary>
    ServerError,

    /// <summary>The model has no safetensors weights (only <c>.bin</c>, <c>.h5</c> or <c>.onnx</c>), which this library does not read.</summary>
    NoSafetensorsWeights,

    /// <summary>A setting (endpoint, cache folder, revision) is unusable.</summary>
    InvalidSetting,
}

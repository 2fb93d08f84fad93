namespace TransformerEmbeddings.Hub;

/// <summary>
/// The settings in force: each option, else huggingface_hub's environment variable, else its default
/// (huggingface_hub <c>constants.py</c>: HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_TOKEN, HF_TOKEN_PATH, HF_HUB_OFFLINE,
/// HF_HUB_ETAG_TIMEOUT, HF_HUB_DOWNLOAD_TIMEOUT).
/// </summary>
internal sealed record HubSettings
{
    public const string DefaultEndpoint = "https://huggingface.co";

    public required Uri Endpoint { get; init; }
    public required string CacheDirectory { get; init; }
    public string? Token { get; init; }

    /// <summary>Where the token came from, for messages (<c>HF_TOKEN</c>, a file path, or the options).</summary>
    public string? TokenSource { get; init; }

    /// <summary>The token file huggingface-cli login writes, named in messages about tokens.</summary>
    public required string TokenFile { get; init; }

    public bool Offline { get; init; }

    /// <summary>The limit on each metadata request (HEAD, model info).</summary>
    public TimeSpan MetadataTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a download may receive nothing before it counts as dropped.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public static HubSettings Resolve(HubOptions options) => Resolve(options, options.Environment ?? Environment.GetEnvironmentVariable);

    public static HubSettings Resolve(HubOptions options, Func<string, string?> env)
    {
        string? Env(string name) => env(name) is { Length: > 0 } v ? v : null;

        var home = Expand(Env("HF_HOME")) ?? Path.Combine(Expand(Env("XDG_CACHE_HOME")) ?? Path.Combine(UserHome(), ".cache"), "huggingface");
        var cache = Expand(options.CacheDirectory) ?? Expand(Env("HF_HUB_CACHE")) ?? Expand(Env("HUGGINGFACE_HUB_CACHE")) ?? Path.Combine(home, "hub");
        var tokenFile = Expand(Env("HF_TOKEN_PATH")) ?? Path.Combine(home, "token");

        var endpointText = (options.Endpoint ?? Env("HF_ENDPOINT") ?? DefaultEndpoint).TrimEnd('/');
        if (!Uri.TryCreate(endpointText, UriKind.Absolute, out var endpoint) || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
            throw new HubException(HubErrorKind.InvalidSetting, null, null,
                $"The Hub endpoint '{endpointText}' (HubOptions.Endpoint or HF_ENDPOINT) is not an http(s) address such as {DefaultEndpoint}.");

        var (token, source) = options.Token is { Length: > 0 } t ? (t, "the options")
            : Env("HF_TOKEN") is { } e ? (e, "HF_TOKEN")
            : Env("HUGGING_FACE_HUB_TOKEN") is { } legacy ? (legacy, "HUGGING_FACE_HUB_TOKEN")
            : ReadTokenFile(tokenFile) is { } f ? (f, tokenFile)
            : ((string?)null, (string?)null);

        return new HubSettings
        {
            Endpoint = endpoint,
            CacheDirectory = Path.GetFullPath(cache),
            Token = token,
            TokenSource = source,
            TokenFile = tokenFile,
            Offline = options.Offline ?? IsTrue(Env("HF_HUB_OFFLINE")),
            MetadataTimeout = Seconds(Env("HF_HUB_ETAG_TIMEOUT"), 10),
            ReadTimeout = Seconds(Env("HF_HUB_DOWNLOAD_TIMEOUT"), 10),
        };
    }

    /// <summary>huggingface_hub's <c>_is_true</c>.</summary>
    internal static bool IsTrue(string? value) => value?.Trim().ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";

    private static string? ReadTokenFile(string path)
    {
        try
        {
            return File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } token ? token : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static TimeSpan Seconds(string? text, double fallback) =>
        TimeSpan.FromSeconds(double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0 ? s : fallback);

    private static string? Expand(string? path) =>
        path is null ? null : path == "~" ? UserHome() : path.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(UserHome(), path[2..]) : path;

    private static string UserHome() => Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
}

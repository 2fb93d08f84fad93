using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace TransformerEmbeddings.Hub;

/// <summary>
/// The three Hub requests a download needs, made as huggingface_hub makes them: the model info API (commit and file
/// list), a HEAD on <c>/{repo}/resolve/{commit}/{file}</c> that follows only relative redirects (a renamed repository)
/// and reads the metadata off the redirect to the CDN, and a GET of the bytes, from an offset when resuming.
/// Failures become <see cref="HubException"/>s that say what to do.
/// </summary>
internal sealed class HubApi(HubSettings settings)
{
    private const int MaxRelativeRedirects = 10;

    private static readonly string UserAgent =
        $"TransformerEmbeddings/{typeof(HubApi).Assembly.GetName().Version?.ToString(3) ?? "0"}; dotnet/{Environment.Version}";

    // Metadata must see each redirect; downloads follow them (and .NET drops the Authorization header on the way).
    private static readonly HttpClient MetadataClient = NewClient(followRedirects: false);
    private static readonly HttpClient DownloadClient = NewClient(followRedirects: true);

    public HubSettings Settings => settings;

    public async Task<RepoInfo> ModelInfoAsync(ModelId id, string revision, CancellationToken cancel)
    {
        var url = new Uri($"{Base}/api/models/{id.Repository}/revision/{Uri.EscapeDataString(revision)}?blobs=true");
        using var response = await SendMetadataAsync(HttpMethod.Get, url, id, cancel).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw Failure(response, id, revision, null);
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(cancel).ConfigureAwait(false);
            using var json = await JsonDocument.ParseAsync(body, cancellationToken: cancel).ConfigureAwait(false);
            var root = json.RootElement;
            var sha = root.TryGetProperty("sha", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : "";
            if (!ModelId.IsCommitSha(sha))
                throw Malformed(id, url, $"its 'sha' is '{sha}', not a 40-digit commit sha");
            var files = new List<RepoFile>();
            if (root.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array)
            {
                foreach (var sibling in siblings.EnumerateArray())
                {
                    if (sibling.ValueKind != JsonValueKind.Object || !sibling.TryGetProperty("rfilename", out var name) || name.ValueKind != JsonValueKind.String)
                        throw Malformed(id, url, "a sibling has no 'rfilename'");
                    long? size = sibling.TryGetProperty("size", out var z) && z.TryGetInt64(out var n) ? n : null;
                    files.Add(new RepoFile(name.GetString()!, size));
                }
            }
            return new RepoInfo(sha, files);
        }
        catch (JsonException e)
        {
            throw Malformed(id, url, $"not JSON ({e.Message})", e);
        }
    }

    public async Task<FileMetadata> FileMetadataAsync(ModelId id, string commit, string file, CancellationToken cancel)
    {
        var url = new Uri($"{Base}/{id.Repository}/resolve/{Uri.EscapeDataString(commit)}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}");
        using var response = await SendMetadataAsync(HttpMethod.Head, url, id, cancel).ConfigureAwait(false);
        var status = (int)response.StatusCode;
        var location = response.Headers.Location;
        if (status is >= 400 || (status >= 300 && location is null)) throw Failure(response, id, commit, file);
        var answered = response.RequestMessage?.RequestUri ?? url;

        var etag = Header(response, "X-Linked-Etag") ?? response.Headers.ETag?.ToString() ?? Header(response, "ETag");
        var normalized = etag is null ? null : NormalizeEtag(etag);
        if (string.IsNullOrEmpty(normalized) || normalized.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) || normalized.StartsWith('.'))
            throw Malformed(id, answered, $"no usable ETag for '{file}' (got '{etag}')");
        var sizeText = Header(response, "X-Linked-Size");
        long? size = sizeText is not null && long.TryParse(sizeText, out var linked) ? linked : response.Content.Headers.ContentLength;
        if (size is not { } known || known < 0)
            throw Malformed(id, answered, $"no size for '{file}' (neither X-Linked-Size nor Content-Length)");
        var downloadUrl = status >= 300 ? new Uri(answered, location!.OriginalString) : answered;
        return new FileMetadata(Header(response, "X-Repo-Commit"), normalized, known, downloadUrl);
    }

    /// <summary>Starts a GET of a file's bytes, from <paramref name="offset"/> on when resuming; the caller reads and disposes it.</summary>
    public async Task<HttpResponseMessage> OpenAsync(ModelId id, string file, Uri url, long offset, CancellationToken cancel)
    {
        using var request = NewRequest(HttpMethod.Get, url);
        if (offset > 0) request.Headers.Range = new RangeHeaderValue(offset, null);
        HttpResponseMessage response;
        using (var timeout = Timeout(cancel, settings.MetadataTimeout))
        {
            try
            {
                response = await DownloadClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (IsNetworkFailure(e, cancel))
            {
                throw Unreachable(id, e);
            }
        }
        if (response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable) return response;
        using (response) throw Failure(response, id, null, file);
    }

    /// <summary>Whether an exception is the network failing rather than the caller cancelling.</summary>
    public static bool IsNetworkFailure(Exception e, CancellationToken cancel) =>
        e is HttpRequestException or IOException || (e is OperationCanceledException && !cancel.IsCancellationRequested);

    public HubException Unreachable(ModelId id, Exception e) => new(HubErrorKind.NetworkUnavailable, id.ToString(), null,
        $"Could not reach {Base} for model '{id.Repository}' ({Describe(e)}). Check the network or HF_ENDPOINT; to work without a network, " +
        $"use the cache only: set HF_HUB_OFFLINE=1 (HubOptions.Offline) after downloading the model once where the Hub is reachable " +
        $"(te download {id.Repository}), or pass a local model folder.", e);

    /// <summary>huggingface_hub's <c>_normalize_etag</c>: no weak prefix, no quotes.</summary>
    internal static string NormalizeEtag(string etag) => (etag.StartsWith("W/", StringComparison.Ordinal) ? etag[2..] : etag).Trim('"');

    private string Base => settings.Endpoint.ToString().TrimEnd('/');

    /// <summary>Sends a metadata request, following relative redirects only (a renamed repository), not those to a CDN.</summary>
    private async Task<HttpResponseMessage> SendMetadataAsync(HttpMethod method, Uri url, ModelId id, CancellationToken cancel)
    {
        for (var hop = 0; ; hop++)
        {
            HttpResponseMessage response;
            using (var request = NewRequest(method, url))
            using (var timeout = Timeout(cancel, settings.MetadataTimeout))
            {
                try
                {
                    response = await MetadataClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (IsNetworkFailure(e, cancel))
                {
                    throw Unreachable(id, e);
                }
            }
            var location = response.Headers.Location;
            if ((int)response.StatusCode is < 300 or >= 400 || location is null || !IsRelative(location) || hop >= MaxRelativeRedirects)
                return response;
            response.Dispose();
            url = new Uri(url, location.OriginalString);
        }
    }

    private HttpRequestMessage NewRequest(HttpMethod method, Uri url)
    {
        var request = new HttpRequestMessage(method, url);
        request.Headers.TryAddWithoutValidation("User-Agent", UserAgent);   // huggingface_hub's "name/version; runtime/version" form
        request.Headers.AcceptEncoding.ParseAdd("identity");   // sizes are the file's, not a compressed stream's
        // The token goes to the Hub only, never to a CDN or another host a redirect names.
        if (settings.Token is { } token && SameOrigin(url, settings.Endpoint))
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    private HubException Failure(HttpResponseMessage response, ModelId id, string? revision, string? file)
    {
        var status = (int)response.StatusCode;
        var code = Header(response, "X-Error-Code");
        var says = Header(response, "X-Error-Message") is { Length: > 0 } m ? $": \"{m}\"" : "";
        var model = id.ToString();
        var page = $"{Base}/{id.Repository}";
        var tokenAdvice = settings.Token is null
            ? $"no token was sent: set HF_TOKEN=hf_…, HubOptions.Token, or run `huggingface-cli login` (it writes {settings.TokenFile})"
            : $"the token from {settings.TokenSource} was sent";

        if (code == "GatedRepo" || (code is null && status is 401 or 403))
            return new HubException(HubErrorKind.AccessDenied, model, file,
                $"Model '{id.Repository}' is gated or private and {Base} refused access (HTTP {status}{says}). Accept its terms at {page} " +
                $"with your account and use a token with read access; {tokenAdvice}.");
        if (code == "RepoNotFound" || (code is null && status == 404 && file is null))
            return new HubException(HubErrorKind.RepositoryNotFound, model, file,
                $"No model '{id.Repository}' on {Base} (HTTP {status}{says}), and no local folder of that name " +
                $"('{Path.GetFullPath(id.Repository)}'). Check the id (org/name) or the path; if the model is private, {tokenAdvice}.");
        if (code == "RevisionNotFound")
            return new HubException(HubErrorKind.RevisionNotFound, model, file,
                $"Model '{id.Repository}' has no revision '{revision}' on {Base} (HTTP {status}{says}). Use a branch, tag or full " +
                $"commit sha that exists (see {page}/tree/main), or leave the revision out for main.");
        if (code == "EntryNotFound" || (status == 404 && file is not null))
            return new HubException(HubErrorKind.FileNotFound, model, file,
                $"'{file}' of model '{id.Repository}' is listed at revision {revision} but {Base} does not serve it (HTTP {status}{says}); " +
                "try again later or pin another revision.");
        return new HubException(HubErrorKind.ServerError, model, file,
            $"{Base} answered HTTP {status} ({response.ReasonPhrase}){says} for {response.RequestMessage?.RequestUri}; try again later.");
    }

    private HubException Malformed(ModelId id, Uri url, string what, Exception? inner = null) =>
        new(HubErrorKind.ServerError, id.ToString(), null, $"The Hub's answer to {url} is unusable: {what}. Check HF_ENDPOINT ({Base}).", inner);

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? values.FirstOrDefault()
            : null;

    // On Unix "/path" parses as an absolute file: URI; a Location header never means a file.
    private static bool IsRelative(Uri location) => !location.IsAbsoluteUri || location.IsFile;

    private static bool SameOrigin(Uri a, Uri b) =>
        string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase) && string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;

    private static CancellationTokenSource Timeout(CancellationToken cancel, TimeSpan limit)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        source.CancelAfter(limit);
        return source;
    }

    private static string Describe(Exception e) => e is OperationCanceledException ? "no answer in time"
        : e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal) ? $"{e.Message} {inner.Message}"
        : e.Message;

    private static HttpClient NewClient(bool followRedirects) => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = followRedirects,
        MaxAutomaticRedirections = 10,
        AutomaticDecompression = DecompressionMethods.None,
        ConnectTimeout = TimeSpan.FromSeconds(10),
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
    })
    {
        Timeout = System.Threading.Timeout.InfiniteTimeSpan,   // per-request limits above; a large file may take hours
    };
}

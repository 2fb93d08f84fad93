using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TransformerEmbeddings.Tests.Hub;

/// <summary>
/// A local HuggingFace Hub on the loopback interface, serving model folders under ids with the Hub's URL scheme and
/// headers: the model info API (<c>/api/models/{id}/revision/{rev}</c>, siblings with <c>blobs=true</c>), the tree and
/// paths-info APIs <c>@huggingface/hub</c> uses, and <c>/{id}/resolve/{rev}/{file}</c> — LFS files (safetensors, bin,
/// onnx, h5) answer 302 to a "CDN" on another address (127.0.0.2) with X-Linked-Etag (sha256), X-Linked-Size and
/// X-Repo-Commit; small files answer 307 to a relative <c>/api/resolve-cache/…</c> path with a git-sha1 ETag. Bytes are
/// served with HTTP Range. Gated repositories want <see cref="Token"/>; unknown ids, revisions and files get the Hub's
/// X-Error-Code answers. Every request is recorded; <see cref="Cdn"/> injects dropped connections, corruption and slowness.
/// </summary>
public sealed class FakeHub : IAsyncDisposable
{
    public const string Token = "hf_fakehub_valid_token";
    private const string Date = "2024-05-01T12:00:00.000Z";

    private readonly WebApplication app;
    private readonly ConcurrentDictionary<string, FakeRepo> repos = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, FakeFile> blobs = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<HubRequest> requests = new();
    private readonly ConcurrentDictionary<string, int> cdnCounts = new(StringComparer.Ordinal);

    private FakeHub(WebApplication app, Uri endpoint, Uri cdn)
    {
        this.app = app;
        Endpoint = endpoint;
        CdnBase = cdn;
    }

    /// <summary>The Hub's address (what HF_ENDPOINT would hold).</summary>
    public Uri Endpoint { get; }

    /// <summary>Where LFS files are redirected to: another host, as the real CDN is.</summary>
    public Uri CdnBase { get; }

    /// <summary>Every request so far, in arrival order.</summary>
    public IReadOnlyList<HubRequest> Requests => requests.ToArray();

    /// <summary>Decides how each CDN request is served (drop after N bytes, corrupt, slow); plainly when null.</summary>
    public Func<CdnRequest, CdnPlan>? Cdn { get; set; }

    public static async Task<FakeHub> StartAsync()
    {
        // The server shares its thread pool with a test run that blocks threads; more ready threads keep it answering.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), Math.Max(io, 32));
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0);
            k.Listen(IPAddress.Parse("127.0.0.2"), 0);
        });
        var app = builder.Build();
        FakeHub? hub = null;
        app.Run(context => hub!.HandleAsync(context));
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a)).ToList();
        hub = new FakeHub(app, addresses.Single(a => a.Host == "127.0.0.1"), addresses.Single(a => a.Host == "127.0.0.2"));
        return hub;
    }

    public FakeRepo AddRepo(string id, bool gated = false)
    {
        var repo = new FakeRepo(id, gated, this);
        repos[id] = repo;
        return repo;
    }

    public FakeRepo Repo(string id) => repos[id];

    internal void Register(FakeFile file) => blobs.TryAdd(file.Etag, file);

    /// <summary>Requests for the bytes of a blob (CDN or resolve-cache GETs) so far.</summary>
    public IReadOnlyList<HubRequest> ContentRequests(FakeFile file) =>
        Requests.Where(r => r.Method == "GET" && (r.Path.StartsWith($"/cdn/{file.Etag}", StringComparison.Ordinal)
            || (r.Path.StartsWith("/api/resolve-cache/", StringComparison.Ordinal) && r.Path.EndsWith("/" + file.Path, StringComparison.Ordinal)))).ToList();

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()!.RawTarget;
        var path = raw.Split('?')[0];
        string? authorization = context.Request.Headers.Authorization;
        requests.Enqueue(new HubRequest(context.Request.Method, raw, context.Request.Headers.Range.ToString() is { Length: > 0 } r ? r : null, authorization is not null));
        var authorized = authorization == $"Bearer {Token}";

        if (path.StartsWith("/cdn/", StringComparison.Ordinal))
        {
            await ServeCdnAsync(context, path["/cdn/".Length..]);
            return;
        }
        if (path.StartsWith("/api/resolve-cache/models/", StringComparison.Ordinal))
        {
            var segments = path["/api/resolve-cache/models/".Length..].Split('/');
            var at = Array.FindIndex(segments, s => s.Length == 40 && s.All(Uri.IsHexDigit));
            if (at < 1) { await NotFound(context, "EntryNotFound", "Entry not found"); return; }
            var cachedRepo = Lookup(string.Join('/', segments[..at]));
            if (cachedRepo is null) { await RepoNotFound(context, authorization); return; }
            if (!await Admit(context, cachedRepo, authorization, authorized)) return;
            if (!cachedRepo.Commits.TryGetValue(segments[at], out var cachedCommit)
                || !cachedCommit.Files.TryGetValue(Unescape(string.Join('/', segments[(at + 1)..])), out var cachedFile))
            {
                await NotFound(context, "EntryNotFound", "Entry not found");
                return;
            }
            context.Response.Headers["X-Repo-Commit"] = cachedCommit.Sha;
            context.Response.Headers.ETag = $"\"{cachedFile.GitOid}\"";
            await ServeBytesAsync(context, cachedFile, new CdnPlan());
            return;
        }
        if (path.StartsWith("/api/models/", StringComparison.Ordinal))
        {
            await ServeApiAsync(context, path["/api/models/".Length..], authorization, authorized);
            return;
        }
        var resolveAt = path.IndexOf("/resolve/", StringComparison.Ordinal);
        if (resolveAt > 0)
        {
            var repo = Lookup(path[1..resolveAt]);
            if (repo is null) { await RepoNotFound(context, authorization); return; }
            if (!await Admit(context, repo, authorization, authorized)) return;
            var rest = path[(resolveAt + "/resolve/".Length)..];
            var slash = rest.IndexOf('/');
            var revision = Unescape(slash < 0 ? rest : rest[..slash]);
            var file = slash < 0 ? "" : Unescape(rest[(slash + 1)..]);
            if (repo.CommitOf(revision) is not { } commit) { await NotFound(context, "RevisionNotFound", $"Invalid rev id: {revision}"); return; }
            if (!commit.Files.TryGetValue(file, out var entry)) { await NotFound(context, "EntryNotFound", $"{file} does not exist on \"{revision}\""); return; }
            context.Response.Headers["X-Repo-Commit"] = commit.Sha;
            if (entry.IsLfs)
            {
                context.Response.StatusCode = 302;
                context.Response.Headers.Location = new Uri(CdnBase, $"cdn/{entry.Etag}?file={Uri.EscapeDataString(file)}").ToString();
                context.Response.Headers.ETag = $"\"{entry.GitOid}\"";
                context.Response.Headers["X-Linked-Etag"] = $"\"{entry.Sha256}\"";
                context.Response.Headers["X-Linked-Size"] = entry.Size.ToString();
            }
            else
            {
                context.Response.StatusCode = 307;
                context.Response.Headers.Location = $"/api/resolve-cache/models/{repo.Id}/{commit.Sha}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}";
            }
            return;
        }
        await NotFound(context, null, "Not found");
    }

    private async Task ServeApiAsync(HttpContext context, string rest, string? authorization, bool authorized)
    {
        string[] verbs = ["/revision/", "/tree/", "/paths-info/"];
        var (at, verb) = verbs.Select(v => (rest.IndexOf(v, StringComparison.Ordinal), v)).Where(p => p.Item1 > 0).DefaultIfEmpty((-1, "")).First();
        var repo = Lookup(at < 0 ? rest : rest[..at]);
        if (repo is null) { await RepoNotFound(context, authorization); return; }
        if (!await Admit(context, repo, authorization, authorized)) return;
        var tail = at < 0 ? "main" : rest[(at + verb.Length)..];
        var slash = tail.IndexOf('/');
        var revision = Unescape(slash < 0 ? tail : tail[..slash]);
        if (repo.CommitOf(revision) is not { } commit) { await NotFound(context, "RevisionNotFound", $"Invalid rev id: {revision}"); return; }

        object body;
        if (verb == "/paths-info/")
        {
            using var request = await JsonDocument.ParseAsync(context.Request.Body);
            var paths = request.RootElement.GetProperty("paths").EnumerateArray().Select(p => p.GetString()!).ToList();
            body = paths.Where(commit.Files.ContainsKey).Select(p => Entry(commit, commit.Files[p], lastCommit: true)).ToList();
        }
        else if (verb == "/tree/")
        {
            var recursive = context.Request.Query["recursive"] == "true";
            var under = slash < 0 ? "" : Unescape(tail[(slash + 1)..]).TrimEnd('/') + "/";
            if (under == "/") under = "";
            var files = commit.Files.Values.Where(f => f.Path.StartsWith(under, StringComparison.Ordinal) && (recursive || !f.Path[under.Length..].Contains('/')));
            var folders = commit.Files.Keys.SelectMany(Folders).Distinct().Where(d => d.StartsWith(under, StringComparison.Ordinal) && (recursive || !d[under.Length..].Contains('/')));
            body = folders.Order(StringComparer.Ordinal).Select(d => (object)new Dictionary<string, object> { ["type"] = "directory", ["oid"] = GitSha1(Encoding.UTF8.GetBytes(d)), ["size"] = 0, ["path"] = d })
                .Concat(files.OrderBy(f => f.Path, StringComparer.Ordinal).Select(f => Entry(commit, f, lastCommit: false))).ToList();
        }
        else
        {
            var blobsWanted = context.Request.Query["blobs"] == "true";
            body = new Dictionary<string, object?>
            {
                ["_id"] = GitSha1(Encoding.UTF8.GetBytes(repo.Id))[..24],
                ["id"] = repo.Id,
                ["modelId"] = repo.Id,
                ["sha"] = commit.Sha,
                ["private"] = false,
                ["gated"] = repo.Gated ? "manual" : false,
                ["disabled"] = false,
                ["downloads"] = 0,
                ["likes"] = 0,
                ["lastModified"] = Date,
                ["tags"] = new[] { "sentence-transformers" },
                ["siblings"] = commit.Files.Values.OrderBy(f => f.Path, StringComparer.Ordinal).Select(f => Sibling(f, blobsWanted)).ToList(),
            };
        }
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsync(JsonSerializer.Serialize(body));
    }

    private static IEnumerable<string> Folders(string file)
    {
        var parts = file.Split('/');
        for (var i = 1; i < parts.Length; i++) yield return string.Join('/', parts[..i]);
    }

    private static Dictionary<string, object> Sibling(FakeFile f, bool blobs)
    {
        var s = new Dictionary<string, object> { ["rfilename"] = f.Path };
        if (!blobs) return s;
        s["blobId"] = f.GitOid;
        s["size"] = f.Size;
        if (f.IsLfs) s["lfs"] = new Dictionary<string, object> { ["sha256"] = f.Sha256, ["size"] = f.Size, ["pointerSize"] = f.PointerSize };
        return s;
    }

    private static Dictionary<string, object> Entry(FakeCommit commit, FakeFile f, bool lastCommit)
    {
        var e = new Dictionary<string, object> { ["type"] = "file", ["oid"] = f.GitOid, ["size"] = f.Size, ["path"] = f.Path };
        if (f.IsLfs) e["lfs"] = new Dictionary<string, object> { ["oid"] = f.Sha256, ["size"] = f.Size, ["pointerSize"] = f.PointerSize };
        if (lastCommit) e["lastCommit"] = new Dictionary<string, object> { ["id"] = commit.Sha, ["title"] = "Upload", ["date"] = Date };
        return e;
    }

    private async Task ServeCdnAsync(HttpContext context, string etag)
    {
        if (!blobs.TryGetValue(etag, out var file)) { await NotFound(context, null, "NoSuchKey"); return; }
        var index = context.Request.Method == "GET" ? cdnCounts.AddOrUpdate(etag, 1, (_, n) => n + 1) - 1 : -1;
        var offset = RangeStart(context.Request.Headers.Range.ToString()) ?? 0;
        var plan = index >= 0 && Cdn is { } decide ? decide(new CdnRequest(file.Etag, file.Path, index, offset)) : new CdnPlan();
        context.Response.Headers.ETag = $"\"{file.Etag}\"";
        await ServeBytesAsync(context, file, plan);
    }

    private static async Task ServeBytesAsync(HttpContext context, FakeFile file, CdnPlan plan)
    {
        var response = context.Response;
        response.ContentType = "application/octet-stream";
        response.Headers.AcceptRanges = "bytes";
        var (start, end) = (0L, file.Size - 1);
        var range = context.Request.Headers.Range.ToString();
        if (range.StartsWith("bytes=", StringComparison.Ordinal))
        {
            var parts = range["bytes=".Length..].Split('-');
            start = long.Parse(parts[0]);
            if (parts[1].Length > 0) end = Math.Min(end, long.Parse(parts[1]));
            if (start >= file.Size)
            {
                response.StatusCode = 416;
                response.Headers.ContentRange = $"bytes */{file.Size}";
                return;
            }
            response.StatusCode = 206;
            response.Headers.ContentRange = $"bytes {start}-{end}/{file.Size}";
        }
        var length = end - start + 1;
        response.ContentLength = length;
        if (context.Request.Method == "HEAD") return;

        await using var source = file.Open();
        source.Seek(start, SeekOrigin.Begin);
        var buffer = new byte[1 << 16];
        long sent = 0;
        var corruptAt = file.Size / 2;
        while (sent < length)
        {
            var want = (int)Math.Min(buffer.Length, length - sent);
            if (plan.DropAfter is { } drop) want = (int)Math.Min(want, Math.Max(0, drop - sent));
            if (want == 0) break;
            var n = await source.ReadAsync(buffer.AsMemory(0, want));
            if (plan.Corrupt && start + sent <= corruptAt && corruptAt < start + sent + n) buffer[corruptAt - start - sent] ^= 0x5A;
            await response.Body.WriteAsync(buffer.AsMemory(0, n));
            sent += n;
            if (plan.ChunkDelay > TimeSpan.Zero)
            {
                await response.Body.FlushAsync();
                await Task.Delay(plan.ChunkDelay);
            }
        }
        if (sent < length)
        {
            await response.Body.FlushAsync();
            context.Abort();   // the connection drops mid-file
        }
    }

    private FakeRepo? Lookup(string escapedId) => repos.TryGetValue(Unescape(escapedId), out var repo) ? repo : null;

    private static async Task<bool> Admit(HttpContext context, FakeRepo repo, string? authorization, bool authorized)
    {
        if (!repo.Gated || authorized) return true;
        context.Response.StatusCode = authorization is null ? 401 : 403;
        context.Response.Headers["X-Error-Code"] = "GatedRepo";
        context.Response.Headers["X-Error-Message"] = authorization is null
            ? $"Access to model {repo.Id} is restricted. You must have access to it and be authenticated to access it. Please log in."
            : $"Access to model {repo.Id} is restricted and you are not in the authorized list. Visit https://huggingface.co/{repo.Id} to ask for access.";
        await context.Response.WriteAsync("{\"error\":\"gated\"}");
        return false;
    }

    // The Hub answers 401 to an anonymous request for a repository it does not show, 404 to a signed-in one.
    private static Task RepoNotFound(HttpContext context, string? authorization)
    {
        context.Response.StatusCode = authorization is null ? 401 : 404;
        context.Response.Headers["X-Error-Code"] = "RepoNotFound";
        context.Response.Headers["X-Error-Message"] = "Repository not found";
        return context.Response.WriteAsync("{\"error\":\"Repository not found\"}");
    }

    private static Task NotFound(HttpContext context, string? code, string message)
    {
        context.Response.StatusCode = 404;
        if (code is not null) context.Response.Headers["X-Error-Code"] = code;
        context.Response.Headers["X-Error-Message"] = message;
        return context.Response.WriteAsync(JsonSerializer.Serialize(new { error = message }));
    }

    private static long? RangeStart(string range) =>
        range.StartsWith("bytes=", StringComparison.Ordinal) && long.TryParse(range["bytes=".Length..].Split('-')[0], out var s) ? s : null;

    private static string Unescape(string s) => Uri.UnescapeDataString(s);

    internal static string GitSha1(byte[] content)
    {
        var header = Encoding.ASCII.GetBytes($"blob {content.Length}\0");
        return Convert.ToHexString(SHA1.HashData([.. header, .. content])).ToLowerInvariant();
    }
}

public sealed record HubRequest(string Method, string Path, string? Range, bool Authorized);

public sealed record CdnRequest(string Etag, string File, int Index, long Offset);

/// <summary>How to serve one CDN request: cut the connection after some bytes, flip a byte, pause between chunks.</summary>
public sealed record CdnPlan(long? DropAfter = null, bool Corrupt = false, TimeSpan ChunkDelay = default);

/// <summary>A repository of the fake Hub: commits of files, and branches or tags naming them.</summary>
public sealed class FakeRepo(string id, bool gated, FakeHub hub)
{
    public string Id { get; } = id;
    public bool Gated { get; } = gated;
    public ConcurrentDictionary<string, FakeCommit> Commits { get; } = new(StringComparer.Ordinal);
    public ConcurrentDictionary<string, string> Refs { get; } = new(StringComparer.Ordinal);

    /// <summary>Adds a commit of these files and points the given branches or tags at it; returns its sha.</summary>
    public string Commit(IEnumerable<FakeFile> files, params string[] refs)
    {
        var list = files.ToList();
        var sha = Convert.ToHexString(SHA1.HashData(Encoding.UTF8.GetBytes(
            $"{Id}\n{Commits.Count}\n{string.Join("\n", list.OrderBy(f => f.Path, StringComparer.Ordinal).Select(f => $"{f.Path} {f.Etag}"))}"))).ToLowerInvariant();
        Commits[sha] = new FakeCommit(sha, list.ToDictionary(f => f.Path, StringComparer.Ordinal));
        foreach (var f in list) hub.Register(f);
        foreach (var r in refs) Refs[r] = sha;
        return sha;
    }

    public FakeCommit? CommitOf(string revision) =>
        Commits.TryGetValue(revision, out var c) ? c : Refs.TryGetValue(revision, out var sha) ? Commits[sha] : null;
}

public sealed record FakeCommit(string Sha, IReadOnlyDictionary<string, FakeFile> Files);

/// <summary>A file of the fake Hub, with the hashes the Hub gives: LFS sha256 for weights, git blob sha1 for the rest.</summary>
public sealed class FakeFile
{
    private static readonly string[] LfsExtensions = [".safetensors", ".bin", ".h5", ".onnx", ".msgpack", ".ot"];
    private static readonly ConcurrentDictionary<string, (long Size, string Sha256, string GitSha1)> DiskHashes = new(StringComparer.Ordinal);
    private readonly Func<Stream> open;

    private FakeFile(string path, long size, string sha256, string contentSha1, Func<Stream> open)
    {
        Path = path;
        Size = size;
        Sha256 = sha256;
        this.open = open;
        IsLfs = LfsExtensions.Any(e => path.EndsWith(e, StringComparison.Ordinal)) || size > 10_000_000;
        var pointer = Encoding.ASCII.GetBytes($"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n");
        PointerSize = pointer.Length;
        GitOid = IsLfs ? FakeHub.GitSha1(pointer) : contentSha1;
    }

    public string Path { get; }
    public long Size { get; }
    public string Sha256 { get; }
    public bool IsLfs { get; }
    public int PointerSize { get; }

    /// <summary>The git object id: of the content, or of the LFS pointer file.</summary>
    public string GitOid { get; }

    /// <summary>The cache's blob name: sha256 for LFS files, the git sha1 for the rest.</summary>
    public string Etag => IsLfs ? Sha256 : GitOid;

    public Stream Open() => open();

    public static FakeFile FromBytes(string path, byte[] bytes) =>
        new(path, bytes.Length, Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant(), FakeHub.GitSha1(bytes), () => new MemoryStream(bytes, writable: false));

    public static FakeFile FromDisk(string path, string fullPath)
    {
        var (size, sha256, sha1) = DiskHashes.GetOrAdd(fullPath, p =>
        {
            var bytes = File.ReadAllBytes(p);
            return (bytes.Length, Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant(), FakeHub.GitSha1(bytes));
        });
        return new FakeFile(path, size, sha256, sha1, () => new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read));
    }

    /// <summary>Every file under a folder, by its path relative to the folder.</summary>
    public static IEnumerable<FakeFile> Folder(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => FromDisk(System.IO.Path.GetRelativePath(folder, f).Replace('\\', '/'), f));
}

using System.Text;
using TransformerEmbeddings.Hub;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Hub;

/// <summary>
/// A fresh local Hub and an empty cache folder per test. The Hub serves the shared test models under ids:
/// <list type="bullet">
/// <item><c>sentence-transformers/all-MiniLM-L6-v2</c> (main): the real model folder plus files no model load needs
/// (pytorch_model.bin, tf_model.h5, onnx/model.onnx, README.md) that must never be fetched;</item>
/// <item><c>test-org/tiny</c>: bert-tiny-uncased at tag <c>v1.0</c> and branch <c>old</c>, roberta-tiny at <c>main</c>;</item>
/// <item><c>test-org/sharded</c>: bert-tiny-cased-sharded (index + two shards);</item>
/// <item><c>test-org/gated</c>: bert-tiny-uncased behind <see cref="FakeHub.Token"/>;</item>
/// <item><c>test-org/bin-only</c>: a folder with pytorch_model.bin and no safetensors.</item>
/// </list>
/// </summary>
public abstract class HubTestBase : IAsyncLifetime
{
    public const string MiniLm = "sentence-transformers/all-MiniLM-L6-v2";
    public const string Tiny = "test-org/tiny";
    public const string Sharded = "test-org/sharded";
    public const string Gated = "test-org/gated";
    public const string BinOnly = "test-org/bin-only";

    protected readonly string Temp = Directory.CreateTempSubdirectory("te-hub-").FullName;

    protected FakeHub Hub { get; private set; } = null!;

    /// <summary>The commit of test-org/tiny that tag v1.0 and branch old name (bert-tiny-uncased).</summary>
    protected string TinyV1 { get; private set; } = "";

    /// <summary>The commit of test-org/tiny that main names (roberta-tiny).</summary>
    protected string TinyMain { get; private set; } = "";

    protected string MiniLmMain { get; private set; } = "";

    protected string Cache => Path.Combine(Temp, "cache");

    /// <summary>Files of the MiniLM repository that loading never needs.</summary>
    public static readonly string[] Unneeded = ["pytorch_model.bin", "tf_model.h5", "onnx/model.onnx", "README.md"];

    public async Task InitializeAsync()
    {
        Hub = await FakeHub.StartAsync();
        var extras = Unneeded.Select(f => FakeFile.FromBytes(f, Encoding.UTF8.GetBytes($"not needed: {f}\n"))).ToList();
        MiniLmMain = Hub.AddRepo(MiniLm).Commit(FakeFile.Folder(SharedData.Model("all-MiniLM-L6-v2")).Concat(extras), "main");
        var tiny = Hub.AddRepo(Tiny);
        TinyV1 = tiny.Commit(FakeFile.Folder(SharedData.Model("bert-tiny-uncased")), "v1.0", "old");
        TinyMain = tiny.Commit(FakeFile.Folder(SharedData.Model("roberta-tiny")), "main");
        Hub.AddRepo(Sharded).Commit(FakeFile.Folder(SharedData.Model("bert-tiny-cased-sharded")), "main");
        Hub.AddRepo(Gated, gated: true).Commit(FakeFile.Folder(SharedData.Model("bert-tiny-uncased")), "main");
        Hub.AddRepo(BinOnly).Commit(
        [
            FakeFile.FromDisk("config.json", Path.Combine(SharedData.Model("bert-tiny-uncased"), "config.json")),
            FakeFile.FromDisk("vocab.txt", Path.Combine(SharedData.Model("bert-tiny-uncased"), "vocab.txt")),
            FakeFile.FromBytes("pytorch_model.bin", new byte[4096]),
        ], "main");
    }

    public async Task DisposeAsync()
    {
        await Hub.DisposeAsync();
        Directory.Delete(Temp, recursive: true);
    }

    /// <summary>
    /// The request timeouts the tests use: the local Hub shares two cores with the whole test run, so an answer may take
    /// longer than huggingface_hub's 10 s default, which is meant for a network, not a loaded test machine.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> Timeouts = new Dictionary<string, string>
    {
        ["HF_HUB_ETAG_TIMEOUT"] = "120",
        ["HF_HUB_DOWNLOAD_TIMEOUT"] = "120",
    };

    /// <summary>Options against the local Hub and this test's cache, blind to the machine's HF_* variables and token file.</summary>
    protected HubOptions Options(string? revision = null, bool offline = false, string? token = null, IProgress<DownloadProgress>? progress = null) => new()
    {
        Endpoint = Hub.Endpoint.ToString(),
        CacheDirectory = Cache,
        Revision = revision,
        Offline = offline,
        Token = token,
        Progress = progress,
        Environment = name => Timeouts.GetValueOrDefault(name),
    };

    /// <summary>The environment of a <c>te</c> process against the local Hub and this test's cache.</summary>
    protected Dictionary<string, string?> TeEnvironment()
    {
        var environment = new Dictionary<string, string?>
        {
            ["HF_ENDPOINT"] = Hub.Endpoint.ToString(),
            ["HF_HUB_CACHE"] = Cache,
            ["HF_HOME"] = Path.Combine(Temp, "hf-home"),
            ["HF_TOKEN"] = null,
            ["HF_TOKEN_PATH"] = null,
            ["HUGGING_FACE_HUB_TOKEN"] = null,
            ["HF_HUB_OFFLINE"] = null,
        };
        foreach (var (name, value) in Timeouts) environment[name] = value;
        return environment;
    }

    protected string RepoFolder(string id) => Path.Combine(Cache, "models--" + id.Replace("/", "--"));

    protected string Snapshot(string id, string commit) => Path.Combine(RepoFolder(id), "snapshots", commit);
}

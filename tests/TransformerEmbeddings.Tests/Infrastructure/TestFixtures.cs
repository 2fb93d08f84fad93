using System.IO.Compression;
using System.Text.Json;

namespace TransformerEmbeddings.Tests.Infrastructure;

/// <summary>Fixtures committed with the tests (tests/TransformerEmbeddings.Tests/Fixtures), found from the repository root.</summary>
public static class TestFixtures
{
    private static readonly Lazy<string> RootLazy = new(Find);

    /// <summary>tests/TransformerEmbeddings.Tests/Fixtures.</summary>
    public static string Root => RootLazy.Value;

    /// <summary>A path under the fixtures folder.</summary>
    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    /// <summary>Reads a JSON fixture, gzipped when its name ends in .gz.</summary>
    public static JsonDocument ReadJson(params string[] parts)
    {
        var path = Path(parts);
        using var file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return JsonDocument.Parse(buffer.ToArray());
    }

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (!File.Exists(System.IO.Path.Combine(dir.FullName, "TransformerEmbeddings.sln"))) continue;
            var fixtures = System.IO.Path.Combine(dir.FullName, "tests", "TransformerEmbeddings.Tests", "Fixtures");
            if (Directory.Exists(fixtures)) return fixtures;
            throw new DirectoryNotFoundException($"The test fixtures folder '{fixtures}' is missing.");
        }

        throw new DirectoryNotFoundException("Could not find the repository root (TransformerEmbeddings.sln) above " + AppContext.BaseDirectory + ".");
    }
}

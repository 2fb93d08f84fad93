namespace TransformerEmbeddings.Tests.Infrastructure;

/// <summary>
/// Locates ../shared (override: TE_SHARED). Tests fail, never skip, when it is missing: under CI=true that is an
/// error of the run; locally too, since every parity test needs it.
/// </summary>
public static class SharedData
{
    private static readonly Lazy<string> RootLazy = new(Find);

    public static string Root => RootLazy.Value;

    public static string TestModels => Path.Combine(Root, "testmodels");

    public static string Golden => Path.Combine(Root, "golden");

    public static string Model(string name) => Path.Combine(TestModels, name);

    public static string GoldenFile(string name) => Path.Combine(Golden, name);

    /// <summary>The four test model folders by name.</summary>
    public static readonly string[] ModelNames =
        ["all-MiniLM-L6-v2", "bert-tiny-uncased", "bert-tiny-cased-sharded", "roberta-tiny"];

    /// <summary>Every (model, batch prefix) of the golden files: sentences (""), "pairs." and "long.".</summary>
    public static Xunit.TheoryData<string, string> ModelsAndBatches()
    {
        var data = new Xunit.TheoryData<string, string>();
        foreach (var m in ModelNames)
            foreach (var batch in new[] { "", "pairs.", "long." })
                data.Add(m, batch);
        return data;
    }

    private static string Find()
    {
        var env = Environment.GetEnvironmentVariable("TE_SHARED");
        if (!string.IsNullOrEmpty(env))
        {
            if (!Directory.Exists(env))
                throw new DirectoryNotFoundException($"TE_SHARED points at '{env}', which does not exist.");
            return Path.GetFullPath(env);
        }

        // Walk up from the test binary to the repository root (the folder holding the .sln), then ../shared.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TransformerEmbeddings.sln")))
            {
                var shared = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
                if (Directory.Exists(shared)) return shared;
                throw new DirectoryNotFoundException(
                    $"The ground-truth folder '{shared}' is missing (CI={Environment.GetEnvironmentVariable("CI") ?? "unset"}). " +
                    "Place shared/ beside the repository or set TE_SHARED.");
            }
        }

        throw new DirectoryNotFoundException("Could not find the repository root (TransformerEmbeddings.sln) above " +
                                             AppContext.BaseDirectory + "; set TE_SHARED.");
    }
}

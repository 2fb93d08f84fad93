using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace TransformerEmbeddings.Tests.Documentation;

/// <summary>The C# a user copies from the READMEs compiles against the library as it is (public surface only).</summary>
public sealed class ReadmeTests
{
    [Theory]
    [InlineData("README.md")]
    [InlineData("src/TransformerEmbeddings/README.md")]
    public void The_csharp_of_the_readme_compiles_against_the_public_api(string readme)
    {
        var path = Path.Combine(RepositoryRoot(), readme);
        var blocks = Regex.Matches(File.ReadAllText(path), "```csharp\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(blocks);
        foreach (var code in blocks)
        {
            var tree = CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(LanguageVersion.Latest), path: readme);
            var usings = CSharpSyntaxTree.ParseText("global using System; global using System.IO; global using System.Linq; global using System.Collections.Generic;");
            var compilation = CSharpCompilation.Create("Readme", [tree, usings], References(),
                new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
            var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToList();
            Assert.True(errors.Count == 0, $"{readme} does not compile:\n{string.Join('\n', errors)}\n---\n{code}");
        }
    }

    /// <summary>The framework, TorchSharp, Microsoft.Extensions.AI and the library, which exposes only its public surface
    /// to another assembly.</summary>
    private static IEnumerable<MetadataReference> References() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
        .Concat([typeof(TransformerModel).Assembly.Location, typeof(TorchSharp.torch).Assembly.Location,
            typeof(Microsoft.Extensions.AI.IEmbeddingGenerator<,>).Assembly.Location])
        .Where(p => p.EndsWith(".dll", StringComparison.Ordinal))
        .Distinct()
        .Select(p => MetadataReference.CreateFromFile(p));

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "TransformerEmbeddings.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("The repository root (TransformerEmbeddings.sln) is not above the test's folder.");
    }
}

/// <summary>The hook-point table and the names documentation gives users agree.</summary>
public sealed class HookPointDocumentationTests
{
    [Fact]
    public void Docs_inspection_lists_every_hook_point_with_its_transformer_lens_hook()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "TransformerEmbeddings.sln"))) root = root.Parent!;
        var rows = File.ReadAllLines(Path.Combine(root.FullName, "docs", "inspection.md")).Where(l => l.StartsWith('|')).ToList();
        foreach (var point in TransformerEmbeddings.Inspection.HookPoint.Capturable)
        {
            var hook = point.TransformerLens[(point.TransformerLens.LastIndexOf('.') + 1)..];
            Assert.True(rows.Any(r => r.Contains($"`{point.Name}", StringComparison.Ordinal) && r.Contains(hook, StringComparison.Ordinal)),
                $"docs/inspection.md has no row naming `{point.Name}` with its TransformerLens hook {hook}");
        }
    }
}

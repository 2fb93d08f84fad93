using CsCheck;
using TransformerEmbeddings.Hub;
using Xunit;

namespace TransformerEmbeddings.Tests.Hub;

/// <summary>Model ids (huggingface_hub's rules), and the settings the environment gives when the options do not.</summary>
public sealed class ModelIdTests
{
    [Theory]
    [InlineData("sentence-transformers/all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", null, "models--sentence-transformers--all-MiniLM-L6-v2")]
    [InlineData("bert-base-uncased", "bert-base-uncased", null, "models--bert-base-uncased")]
    [InlineData("google-bert/bert-base-uncased@main", "google-bert/bert-base-uncased", "main", "models--google-bert--bert-base-uncased")]
    [InlineData("org/name@refs/pr/1", "org/name", "refs/pr/1", "models--org--name")]
    [InlineData("o_1/n.2@0123456789abcdef0123456789abcdef01234567", "o_1/n.2", "0123456789abcdef0123456789abcdef01234567", "models--o_1--n.2")]
    public void Ids_parse_into_repository_and_revision(string text, string repository, string? revision, string folder)
    {
        var id = ModelId.Parse(text);
        Assert.Equal(repository, id.Repository);
        Assert.Equal(revision, id.Revision);
        Assert.Equal(folder, id.CacheFolderName);
        Assert.Equal(text, id.ToString());
    }

    [Theory]
    [InlineData("../shared/testmodels/all-MiniLM-L6-v2")]
    [InlineData("/abs/path")]
    [InlineData("./model")]
    [InlineData("a/b/c")]
    [InlineData("org--x/name")]
    [InlineData("org/na..me")]
    [InlineData("org/name.git")]
    [InlineData("-org/name")]
    [InlineData("org/name-")]
    [InlineData("C:\\models\\bert")]
    [InlineData("org/name@")]
    [InlineData("org/name@../../etc")]
    [InlineData("org/name@/abs")]
    [InlineData("org/name@a b")]
    [InlineData("org/name@x@y")]
    [InlineData("")]
    public void Paths_and_malformed_ids_do_not_parse(string text)
    {
        Assert.False(ModelId.TryParse(text, out _));
        if (text.Length > 0)
        {
            var e = Assert.Throws<HubException>(() => ModelId.Parse(text));
            Assert.Equal(HubErrorKind.InvalidModelId, e.Kind);
            Assert.Contains("org/name", e.Message);
        }
    }

    [Fact]
    public void An_id_longer_than_96_characters_is_refused()
    {
        Assert.True(ModelId.TryParse("o/" + new string('n', 94), out _));
        Assert.False(ModelId.TryParse("o/" + new string('n', 95), out _));
    }

    [Fact]
    public void Whatever_parses_stays_inside_the_cache_folder()
    {
        var root = Path.GetFullPath("/cache");
        Gen.OneOf(Gen.Const("/"), Gen.Const("."), Gen.Const(".."), Gen.Const("@"), Gen.Const("a"), Gen.Const("-"), Gen.Const("\\"), Gen.Const("~"), Gen.Const("refs"))
            .Array[1, 12].Select(string.Concat)
            .Sample(text =>
            {
                if (!ModelId.TryParse(text, out var id)) return;
                var repo = Path.GetFullPath(Path.Combine(root, id.CacheFolderName));
                Assert.Equal(root, Path.GetDirectoryName(repo));
                if (id.Revision is { } revision)
                {
                    var refs = Path.Combine(repo, "refs");
                    Assert.StartsWith(refs + Path.DirectorySeparatorChar, Path.GetFullPath(Path.Combine(refs, revision)));
                }
            });
    }

    [Fact]
    public void Settings_come_from_the_options_then_huggingface_hubs_variables_then_its_defaults()
    {
        var temp = Directory.CreateTempSubdirectory("te-hub-env-").FullName;
        try
        {
            var home = Path.Combine(temp, "hf");
            Directory.CreateDirectory(home);
            File.WriteAllText(Path.Combine(home, "token"), "  hf_from_file \n");
            var env = new Dictionary<string, string>
            {
                ["HF_HOME"] = home, ["HF_ENDPOINT"] = "http://mirror.example:8080/", ["HF_HUB_OFFLINE"] = "yes",
                ["HF_HUB_ETAG_TIMEOUT"] = "3", ["HF_HUB_DOWNLOAD_TIMEOUT"] = "7.5",
            };
            var s = HubSettings.Resolve(new HubOptions(), n => env.GetValueOrDefault(n));
            Assert.Equal(Path.Combine(home, "hub"), s.CacheDirectory);
            Assert.Equal("http://mirror.example:8080/", s.Endpoint.ToString());
            Assert.Equal("hf_from_file", s.Token);
            Assert.Equal(Path.Combine(home, "token"), s.TokenSource);
            Assert.True(s.Offline);
            Assert.Equal(TimeSpan.FromSeconds(3), s.MetadataTimeout);
            Assert.Equal(TimeSpan.FromSeconds(7.5), s.ReadTimeout);

            env["HF_HUB_CACHE"] = Path.Combine(temp, "hub-cache");
            env["HF_TOKEN"] = "hf_from_env";
            env["HF_HUB_OFFLINE"] = "0";
            s = HubSettings.Resolve(new HubOptions(), n => env.GetValueOrDefault(n));
            Assert.Equal(Path.Combine(temp, "hub-cache"), s.CacheDirectory);
            Assert.Equal(("hf_from_env", "HF_TOKEN"), (s.Token, s.TokenSource));
            Assert.False(s.Offline);

            s = HubSettings.Resolve(new HubOptions { CacheDirectory = Path.Combine(temp, "opt"), Token = "hf_opt", Offline = true, Endpoint = "https://hub.example" }, n => env.GetValueOrDefault(n));
            Assert.Equal((Path.Combine(temp, "opt"), "hf_opt", true, "hub.example"), (s.CacheDirectory, s.Token, s.Offline, s.Endpoint.Host));

            var xdg = new Dictionary<string, string> { ["XDG_CACHE_HOME"] = Path.Combine(temp, "xdg") };
            s = HubSettings.Resolve(new HubOptions(), n => xdg.GetValueOrDefault(n));
            Assert.Equal(Path.Combine(temp, "xdg", "huggingface", "hub"), s.CacheDirectory);
            Assert.Equal(Path.Combine(temp, "xdg", "huggingface", "token"), s.TokenFile);
            Assert.Null(s.Token);
            Assert.Equal("https://huggingface.co/", s.Endpoint.ToString());

            s = HubSettings.Resolve(new HubOptions(), _ => null);
            Assert.Equal(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "huggingface", "hub"), s.CacheDirectory);

            var bad = Assert.Throws<HubException>(() => HubSettings.Resolve(new HubOptions { Endpoint = "ftp://x" }, _ => null));
            Assert.Equal(HubErrorKind.InvalidSetting, bad.Kind);
            Assert.Contains("HF_ENDPOINT", bad.Message);
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("TRUE", true)]
    [InlineData("on", true)]
    [InlineData("Yes", true)]
    [InlineData("0", false)]
    [InlineData("false", false)]
    [InlineData("", false)]
    public void Offline_reads_huggingface_hubs_truthy_values(string value, bool offline) =>
        Assert.Equal(offline, HubSettings.IsTrue(value));
}

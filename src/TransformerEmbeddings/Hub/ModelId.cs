using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace TransformerEmbeddings.Hub;

/// <summary>
/// A HuggingFace Hub model id: <c>org/name</c> (or a legacy single <c>name</c>), with an optional <c>@revision</c>
/// (branch, tag or commit sha), e.g. <c>sentence-transformers/all-MiniLM-L6-v2@main</c>. The id rules are
/// huggingface_hub's (<c>validate_repo_id</c>), so anything the Hub accepts parses and paths do not.
/// </summary>
internal sealed partial record ModelId
{
    private ModelId(string repository, string? revision)
    {
        Repository = repository;
        Revision = revision;
    }

    /// <summary>The repository, <c>org/name</c>.</summary>
    public string Repository { get; }

    /// <summary>The revision after <c>@</c>, or null when none was given.</summary>
    public string? Revision { get; }

    /// <summary>The repository's folder in the cache, <c>models--org--name</c> (huggingface_hub's <c>repo_folder_name</c>).</summary>
    public string CacheFolderName => "models--" + Repository.Replace("/", "--", StringComparison.Ordinal);

    /// <summary>Reads a model id.</summary>
    /// <param name="text"><c>org/name</c>, <c>name</c>, optionally followed by <c>@revision</c>.</param>
    /// <param name="id">The id, when the text is one.</param>
    /// <returns>Whether the text is a model id.</returns>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out ModelId? id)
    {
        id = null;
        if (string.IsNullOrEmpty(text)) return false;
        var at = text.IndexOf('@', StringComparison.Ordinal);
        var repository = at < 0 ? text : text[..at];
        var revision = at < 0 ? null : text[(at + 1)..];
        if (!IsRepository(repository) || (revision is not null && !IsRevision(revision))) return false;
        id = new ModelId(repository, revision);
        return true;
    }

    /// <summary>Reads a model id.</summary>
    /// <param name="text"><c>org/name</c>, <c>name</c>, optionally followed by <c>@revision</c>.</param>
    /// <returns>The id.</returns>
    /// <exception cref="HubException">The text is not a model id.</exception>
    public static ModelId Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var id)
            ? id
            : throw new HubException(HubErrorKind.InvalidModelId, text, null,
                $"'{text}' is not a model id: expected org/name (letters, digits, '-', '_', '.'; at most 96 characters) with an optional @revision, e.g. sentence-transformers/all-MiniLM-L6-v2@main.");
    }

    /// <summary>The same repository at another revision.</summary>
    /// <param name="revision">A branch, tag or commit sha.</param>
    /// <returns>The id.</returns>
    /// <exception cref="HubException">The revision is not a usable git revision.</exception>
    public ModelId WithRevision(string revision) => IsRevision(revision)
        ? new ModelId(Repository, revision)
        : throw new HubException(HubErrorKind.InvalidSetting, Repository, null,
            $"'{revision}' is not a usable revision: expected a branch, tag or commit sha without spaces, '..', '\\' or control characters.");

    /// <summary>Whether a revision is a full commit sha (40 lower-case hex digits).</summary>
    internal static bool IsCommitSha(string revision) => CommitSha().IsMatch(revision);

    /// <inheritdoc />
    public override string ToString() => Revision is null ? Repository : $"{Repository}@{Revision}";

    private static bool IsRepository(string text) =>
        text.Length is > 0 and <= 96
        && RepositoryPattern().IsMatch(text)
        && !text.Contains("--", StringComparison.Ordinal)
        && !text.Contains("..", StringComparison.Ordinal)
        && !text.EndsWith(".git", StringComparison.Ordinal);

    // A revision becomes a path under refs/ in the cache: git's ref-name rules keep it inside that folder.
    private static bool IsRevision(string text) =>
        text.Length is > 0 and <= 255
        && !text.StartsWith('/') && !text.EndsWith('/') && !text.StartsWith('.')
        && !text.Contains("..", StringComparison.Ordinal) && !text.Contains("//", StringComparison.Ordinal)
        && !text.Contains("/.", StringComparison.Ordinal)
        && !text.Any(c => char.IsControl(c) || char.IsWhiteSpace(c) || c is '\\' or '~' or '^' or ':' or '?' or '*' or '[' or '@');

    [GeneratedRegex("^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?/)?[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$")]
    private static partial Regex RepositoryPattern();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitSha();
}

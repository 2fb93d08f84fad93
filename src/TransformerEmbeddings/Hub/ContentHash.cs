using System.Security.Cryptography;
using System.Text;

namespace TransformerEmbeddings.Hub;

/// <summary>
/// What a Hub etag promises about a file's bytes: 64 hex digits are the LFS sha256 of the content; 40 are the git blob
/// sha1 (<c>sha1("blob &lt;size&gt;\0" + content)</c>) of a small file. Other etags promise nothing checkable.
/// </summary>
internal static class ContentHash
{
    public static bool IsChecked(string etag) => etag.Length is 64 or 40 && etag.All(Uri.IsHexDigit);

    public static string Describe(string etag) => etag.Length == 64 ? "sha256" : "git sha1";

    /// <summary>The file's hash in the etag's kind, lower-case hex; null when the etag is not a hash.</summary>
    public static string? Compute(string path, string etag)
    {
        if (!IsChecked(etag)) return null;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        using var hash = IncrementalHash.CreateHash(etag.Length == 64 ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA1);
        if (etag.Length == 40) hash.AppendData(Encoding.ASCII.GetBytes($"blob {stream.Length}\0"));
        var buffer = new byte[1 << 16];
        int n;
        while ((n = stream.Read(buffer)) > 0) hash.AppendData(buffer, 0, n);
        return Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
    }
}

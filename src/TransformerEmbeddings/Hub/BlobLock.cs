using Microsoft.Extensions.Logging;

namespace TransformerEmbeddings.Hub;

/// <summary>
/// The per-blob lock huggingface_hub takes (<c>.locks/models--org--name/&lt;etag&gt;.lock</c>): an exclusive open of the
/// lock file, which .NET on Unix backs with <c>flock</c> as Python's <c>filelock</c> does, so .NET and Python processes
/// exclude each other. The system drops the lock when its holder dies, so a crash never leaves a model blocked.
/// </summary>
internal sealed class BlobLock : IDisposable
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);
    private readonly FileStream stream;

    private BlobLock(FileStream stream) => this.stream = stream;

    public static async Task<BlobLock> AcquireAsync(string path, string what, ILogger logger, CancellationToken cancel)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var waiting = false;
        while (true)
        {
            try
            {
                return new BlobLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException e) when (IsHeldElsewhere(e))
            {
                if (!waiting)
                {
                    logger.LogInformation("Waiting for another download of {File} to finish (lock {Lock})", what, path);
                    waiting = true;
                }
                await Task.Delay(Poll, cancel).ConfigureAwait(false);
            }
        }
    }

    public void Dispose() => stream.Dispose();

    // Sharing violation on Windows (0x80070020), EWOULDBLOCK from flock on Unix (11 on Linux, 35 on macOS).
    private static bool IsHeldElsewhere(IOException e) =>
        e.GetType() == typeof(IOException) && (e.HResult is unchecked((int)0x80070020) or unchecked((int)0x80070021) or 11 or 35);
}

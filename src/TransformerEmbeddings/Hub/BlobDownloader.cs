using System.Net;
using Microsoft.Extensions.Logging;

namespace TransformerEmbeddings.Hub;

/// <summary>
/// Brings one blob into the cache as huggingface_hub does: under the blob's lock, into <c>blobs/&lt;etag&gt;.incomplete</c>,
/// resumed with an HTTP Range from what is already there (also after the connection drops mid-file, a few times), checked
/// against the etag's hash, then renamed to <c>blobs/&lt;etag&gt;</c>. A blob that fails its check is deleted, so a
/// blob in the cache is always whole.
/// </summary>
internal sealed class BlobDownloader(HubApi api, HubCache cache, ILogger logger, Func<string, long> freeSpace)
{
    private const int Attempts = 5;
    private const int BufferSize = 1 << 16;

    /// <summary>Makes sure the blob exists; reports the bytes on disk of this file as they grow.</summary>
    public async Task FetchAsync(ModelId id, string file, FileMetadata meta, Action<long> progress, CancellationToken cancel)
    {
        var blob = cache.BlobPath(id, meta.Etag);
        if (File.Exists(blob)) return;
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        using var held = await BlobLock.AcquireAsync(cache.LockPath(id, meta.Etag), $"{id.Repository}/{file}", logger, cancel).ConfigureAwait(false);
        if (File.Exists(blob)) return;   // another process fetched it while we waited

        var incomplete = blob + ".incomplete";
        var restartedClean = false;
        for (var attempt = 1; ; attempt++)
        {
            var start = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
            if (start > meta.Size) start = Truncate(incomplete);
            CheckSpace(id, file, blob, meta.Size - start);
            try
            {
                await ReceiveAsync(id, file, meta, incomplete, start, progress, cancel).ConfigureAwait(false);
            }
            catch (Exception e) when (IsDiskFull(e))
            {
                throw DiskFull(id, file, blob, meta.Size, e);
            }
            catch (Exception e) when (IsDropped(e, cancel) && attempt < Attempts)
            {
                logger.LogWarning("Download of {File} broke off at {Bytes} of {Size} bytes ({Error}); resuming", file,
                    File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0, meta.Size, e.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(250 * attempt), cancel).ConfigureAwait(false);
                continue;
            }
            catch (Exception e) when (IsDropped(e, cancel))
            {
                throw new HubException(HubErrorKind.NetworkUnavailable, id.ToString(), file,
                    $"Downloading '{file}' of {id.Repository} broke off {Attempts} times ({e.Message}); what arrived is kept in {incomplete} " +
                    "and the next try resumes from there. Check the network, or set HF_HUB_OFFLINE=1 to use the cache only.", e);
            }

            var length = new FileInfo(incomplete).Length;
            var actual = ContentHash.Compute(incomplete, meta.Etag);
            if (length == meta.Size && (actual is null || actual == meta.Etag))
            {
                File.Move(incomplete, blob, overwrite: true);   // os.replace, as huggingface_hub
                return;
            }
            File.Delete(incomplete);
            // A resumed download may have started from a bad partial file: start over once before giving up.
            if (start > 0 && !restartedClean)
            {
                restartedClean = true;
                logger.LogWarning("{File} failed its check after resuming; downloading it again from the start", file);
                continue;
            }
            throw new HubException(HubErrorKind.IntegrityCheckFailed, id.ToString(), file, length != meta.Size
                ? $"'{file}' of {id.Repository} arrived with {length} bytes, not the {meta.Size} the Hub announced; nothing was kept. Try again."
                : $"'{file}' of {id.Repository} arrived with {ContentHash.Describe(meta.Etag)} {actual}, not the Hub's {meta.Etag}; nothing was kept. " +
                  "Try again; if it persists, a proxy or the disk is altering data.");
        }
    }

    private static bool IsDropped(Exception e, CancellationToken cancel) =>
        HubApi.IsNetworkFailure(e, cancel) || e is HubException { Kind: HubErrorKind.NetworkUnavailable };

    private async Task ReceiveAsync(ModelId id, string file, FileMetadata meta, string incomplete, long start, Action<long> progress, CancellationToken cancel)
    {
        using var response = await api.OpenAsync(id, file, meta.DownloadUrl, start, cancel).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            // Nothing left to send (or the partial file is not from this blob): the length and hash checks decide.
            if (start != meta.Size) Truncate(incomplete);
            return;
        }
        var resumed = response.StatusCode == HttpStatusCode.PartialContent && response.Content.Headers.ContentRange?.From == start;
        if (!resumed && start > 0)
        {
            start = Truncate(incomplete);   // the server sent the whole file
            logger.LogInformation("{File}: the server ignored the range request; downloading from the start", file);
        }
        await using var body = await response.Content.ReadAsStreamAsync(cancel).ConfigureAwait(false);
        await using var output = new FileStream(incomplete, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, BufferSize);
        var buffer = new byte[BufferSize];
        var written = start;
        progress(written);
        while (true)
        {
            int n;
            using (var stall = CancellationTokenSource.CreateLinkedTokenSource(cancel))
            {
                stall.CancelAfter(api.Settings.ReadTimeout);
                n = await body.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
            }
            if (n == 0) break;
            await output.WriteAsync(buffer.AsMemory(0, n), cancel).ConfigureAwait(false);
            written += n;
            progress(written);
        }
        await output.FlushAsync(cancel).ConfigureAwait(false);
        // A connection closed early without an error still leaves a short file: resume it like a dropped one.
        if (written < meta.Size) throw new IOException($"the connection closed after {written} of {meta.Size} bytes");
    }

    private void CheckSpace(ModelId id, string file, string blob, long needed)
    {
        var folder = Path.GetDirectoryName(blob)!;
        var free = freeSpace(folder);
        if (needed > 0 && free >= 0 && free < needed)
            throw DiskFull(id, file, blob, needed, null, free);
    }

    private static HubException DiskFull(ModelId id, string file, string blob, long needed, Exception? inner, long? free = null) =>
        new(HubErrorKind.DiskFull, id.ToString(), file,
            $"No room in {Path.GetDirectoryName(blob)} for '{file}' of {id.Repository} ({needed:N0} bytes needed" +
            $"{(free is { } f ? $", {f:N0} free" : "")}). Free disk space, or point HF_HUB_CACHE (HubOptions.CacheDirectory) at a disk with room; " +
            "a partial download is kept and resumes on the next try.", inner);

    /// <summary>ENOSPC on Unix (28), ERROR_HANDLE_DISK_FULL / ERROR_DISK_FULL on Windows.</summary>
    internal static bool IsDiskFull(Exception e) =>
        e is IOException && e.HResult is 28 or unchecked((int)0x80070027) or unchecked((int)0x80070070);

    private static long Truncate(string path)
    {
        using (new FileStream(path, FileMode.Create, FileAccess.Write)) { }
        return 0;
    }

    /// <summary>The free bytes on the disk holding a folder; -1 when the system cannot say.</summary>
    internal static long DiskFreeSpace(string folder)
    {
        try
        {
            return new DriveInfo(folder).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return -1;
        }
    }
}

using System.Runtime.InteropServices;

namespace TransformerEmbeddings.Kernels;

/// <summary>
/// Machine code the runtime's JIT cannot emit (instructions .NET has no intrinsic for), copied into pages that may be
/// executed: mapped writable, filled, then flipped to read + execute (never both at once), and kept for the process's
/// lifetime. Linux and macOS on x64 only: the code follows the System V calling convention, which Windows does not
/// use. Where the kernel refuses executable memory (hardened or SELinux policies) the caller keeps its managed kernel.
/// </summary>
internal static unsafe class ExecutableCode
{
    private const int ProtRead = 1, ProtWrite = 2, ProtExec = 4, MapPrivate = 2;

    /// <summary>Binds <c>mmap</c>, <c>mprotect</c> and <c>munmap</c> with calls that change nothing (zero lengths), see
    /// <see cref="Runtime.NativeCalls"/>.</summary>
    public static void Bind()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64 || !(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return;
        try
        {
            _ = mmap(null, 0, ProtRead, MapPrivate, -1, 0); // EINVAL
            _ = mprotect(null, 0, ProtRead);
            _ = munmap(null, 0); // EINVAL
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // TryMap reports the same as unavailable.
        }
    }

    /// <summary>Copies <paramref name="code"/> into executable memory.</summary>
    /// <returns>Its address, or null where this platform or the operating system does not allow it.</returns>
    public static void* TryMap(ReadOnlySpan<byte> code)
    {
        if (code.IsEmpty || RuntimeInformation.ProcessArchitecture != Architecture.X64) return null;
        int anonymous = OperatingSystem.IsLinux() ? 0x20 : OperatingSystem.IsMacOS() ? 0x1000 : 0;
        if (anonymous == 0) return null;
        try
        {
            var length = (nuint)code.Length;
            var p = mmap(null, length, ProtRead | ProtWrite, MapPrivate | anonymous, -1, 0);
            if (p == null || p == (void*)-1) return null;
            code.CopyTo(new Span<byte>(p, code.Length));
            if (mprotect(p, length, ProtRead | ProtExec) != 0)
            {
                _ = munmap(p, length);
                return null;
            }
            return p;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern void* mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [DllImport("libc", SetLastError = true)]
    private static extern int mprotect(void* address, nuint length, int protection);

    [DllImport("libc", SetLastError = true)]
    private static extern int munmap(void* address, nuint length);
}

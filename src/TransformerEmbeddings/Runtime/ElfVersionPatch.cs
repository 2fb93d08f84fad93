using System.Buffers.Binary;
using System.Text;

namespace TransformerEmbeddings.Runtime;

/// <summary>
/// Reads and edits the GNU symbol-version requirements (<c>.gnu.version_r</c>) of an ELF64 little-endian file:
/// enough to mark one required version weak, which makes the dynamic loader accept a library whose requirement
/// the system cannot meet (it only warns under LD_DEBUG).
/// </summary>
internal static class ElfVersionPatch
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    /// <summary>Whether the file lists <paramref name="version"/> among its version requirements.</summary>
    public static bool RequiresVersion(string path, string version) => RequiresVersion(File.ReadAllBytes(path), version);

    /// <summary>Whether the library's bytes declare a need for the version.</summary>
    public static bool RequiresVersion(byte[] data, string version)
    {
        var found = false;
        Walk(data, version, (_, _) => found = true);
        return found;
    }

    /// <summary>Whether a shared library (such as libstdc++) carries the version name at all.</summary>
    public static bool DefinesVersion(string path, string version)
    {
        var needle = Encoding.ASCII.GetBytes(version + "\0");
        return File.ReadAllBytes(path).AsSpan().IndexOf(needle) >= 0;
    }

    /// <summary>Sets <c>VER_FLG_WEAK</c> on every Vernaux entry named <paramref name="version"/>; returns how many.</summary>
    public static int MarkVersionWeak(byte[] data, string version)
    {
        var count = 0;
        Walk(data, version, (d, flagsOffset) =>
        {
            var flags = BinaryPrimitives.ReadUInt16LittleEndian(d.AsSpan(flagsOffset));
            BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(flagsOffset), (ushort)(flags | VerFlgWeak));
            count++;
        });
        return count;
    }

    private static void Walk(byte[] d, string version, Action<byte[], int> onMatch)
    {
        if (d.Length < 64 || d[0] != 0x7f || d[1] != (byte)'E' || d[2] != (byte)'L' || d[3] != (byte)'F' || d[4] != 2 || d[5] != 1)
            throw new NativeRuntimeException("Not an ELF64 little-endian file.");
        var s = d.AsSpan();
        var shoff = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(s[0x28..]));
        var shentsize = BinaryPrimitives.ReadUInt16LittleEndian(s[0x3A..]);
        var shnum = BinaryPrimitives.ReadUInt16LittleEndian(s[0x3C..]);

        for (var i = 0; i < shnum; i++)
        {
            var sh = s[(shoff + i * shentsize)..];
            if (BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]) != ShtGnuVerneed) continue;
            var offset = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(sh[24..]));
            var link = BinaryPrimitives.ReadUInt32LittleEndian(sh[40..]);
            var str = s[(shoff + (int)link * shentsize)..];
            var strOffset = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(str[24..]));

            while (true)
            {
                var count = BinaryPrimitives.ReadUInt16LittleEndian(s[(offset + 2)..]);
                var aux = offset + (int)BinaryPrimitives.ReadUInt32LittleEndian(s[(offset + 8)..]);
                var next = (int)BinaryPrimitives.ReadUInt32LittleEndian(s[(offset + 12)..]);
                for (var k = 0; k < count; k++)
                {
                    var nameOffset = strOffset + (int)BinaryPrimitives.ReadUInt32LittleEndian(s[(aux + 8)..]);
                    var end = s[nameOffset..].IndexOf((byte)0);
                    if (Encoding.ASCII.GetString(s.Slice(nameOffset, end)) == version) onMatch(d, aux + 4);
                    aux += (int)BinaryPrimitives.ReadUInt32LittleEndian(s[(aux + 12)..]);
                }
                if (next == 0) break;
                offset += next;
            }
        }
    }
}

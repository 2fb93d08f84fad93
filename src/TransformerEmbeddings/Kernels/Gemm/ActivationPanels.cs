using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace TransformerEmbeddings.Kernels.Gemm;

/// <summary>
/// Activations rearranged for a micro-kernel (GotoBLAS's packed A): rows in groups of MR, each group k-major
/// (<c>panel[k · MR + r] = X[row + r, k0 + k]</c>, missing rows zero), so the kernel broadcasts from one sequential
/// stream. Elements are 32-bit: fp32 values, or the integer kernel's pairs of 16-bit values.
/// </summary>
internal static unsafe class ActivationPanels
{
    /// <summary>Packs rows [0, rows) × columns [k0, k0 + kc) of <paramref name="x"/> (row stride ldx) into <paramref name="dst"/>
    /// (⌈rows / mr⌉ · mr · kc elements).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack(float* x, int ldx, int rows, int k0, int kc, int mr, float* dst)
    {
        for (int r0 = 0; r0 < rows; r0 += mr, dst += (long)mr * kc)
        {
            int n = Math.Min(mr, rows - r0);
            float* src = x + (long)r0 * ldx + k0;
            int k = 0;
            // Whole tiles transpose with a constant row count (the loads fold at compile time); a short last tile (attention's
            // S rows rarely fill one) as well, its rows past n as zero vectors.
            if (Avx.IsSupported && n == mr)
            {
                if (mr % 8 == 0)
                    for (; k + 8 <= kc; k += 8)
                        for (int g = 0; g < mr; g += 8) Transpose8x8(src + (long)g * ldx + k, ldx, 8, mr, dst + (long)k * mr + g);
                // 6 and 12 rows: a column's spare lanes spill into the next column's first rows, which are written after
                // it; the tile's last column is left to the scalar loop, so nothing spills past the tile (tiles may be
                // packed by different threads in any order).
                else if (mr == 6)
                    for (; k + 8 < kc; k += 8) Transpose8x8(src + k, ldx, 6, mr, dst + (long)k * mr);
                else if (mr == 12)
                    for (; k + 8 < kc; k += 8)
                    {
                        // Rows 8–11 first: their spare lanes spill into the next column's rows 0–3, which rows 0–7 then overwrite.
                        Transpose8x8(src + 8L * ldx + k, ldx, 4, mr, dst + (long)k * mr + 8);
                        Transpose8x8(src + k, ldx, 8, mr, dst + (long)k * mr);
                    }
            }
            else if (Avx.IsSupported)
            {
                if (mr % 8 == 0)
                    for (; k + 8 <= kc; k += 8)
                        for (int g = 0; g < mr; g += 8) Transpose8x8(src + (long)g * ldx + k, ldx, Math.Clamp(n - g, 0, 8), mr, dst + (long)k * mr + g);
                else if (mr == 6)
                    for (; k + 8 < kc; k += 8) Transpose8x8(src + k, ldx, n, mr, dst + (long)k * mr);
                else if (mr == 12)
                    for (; k + 8 < kc; k += 8)
                    {
                        Transpose8x8(src + 8L * ldx + k, ldx, Math.Clamp(n - 8, 0, 4), mr, dst + (long)k * mr + 8);
                        Transpose8x8(src + k, ldx, Math.Min(n, 8), mr, dst + (long)k * mr);
                    }
            }
            for (; k < kc; k++)
            {
                float* d = dst + (long)k * mr;
                int r = 0;
                for (; r < n; r++) d[r] = src[(long)r * ldx + k];
                for (; r < mr; r++) d[r] = 0f;
            }
        }
    }

    /// <summary>The floats <see cref="Pack"/> writes for <paramref name="rows"/> × <paramref name="kc"/> (plus 8 of slack).</summary>
    public static long Size(int rows, int kc, int mr) => (long)(rows + mr - 1) / mr * mr * kc + 8;

    /// <summary>Eight k-columns of the first <paramref name="rows"/> (0–8) rows, the others zero, each column written as 8
    /// floats at a stride of <paramref name="stride"/>, in increasing k, so a short group's spare lanes land where the next
    /// column is written after. Rows past <paramref name="rows"/> are never read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* s, int ld, int rows, int stride, float* o)
    {
        var zero = Vector256<float>.Zero;
        var r0 = rows > 0 ? Avx.LoadVector256(s) : zero;
        var r1 = rows > 1 ? Avx.LoadVector256(s + ld) : zero;
        var r2 = rows > 2 ? Avx.LoadVector256(s + 2 * ld) : zero;
        var r3 = rows > 3 ? Avx.LoadVector256(s + 3 * ld) : zero;
        var r4 = rows > 4 ? Avx.LoadVector256(s + 4 * ld) : zero;
        var r5 = rows > 5 ? Avx.LoadVector256(s + 5 * ld) : zero;
        var r6 = rows > 6 ? Avx.LoadVector256(s + 6 * ld) : zero;
        var r7 = rows > 7 ? Avx.LoadVector256(s + 7 * ld) : zero;
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(o, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(o + stride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(o + 2 * stride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(o + 3 * stride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(o + 4 * stride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(o + 5 * stride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(o + 6 * stride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(o + 7 * stride, Avx.Permute2x128(u3, u7, 0x31));
    }
}

/// <summary>Per-thread pinned scratch memory for the drivers (grown on demand, never shrunk; no allocation per call).</summary>
internal static unsafe class Scratch
{
    [ThreadStatic] private static float[]? panels;
    [ThreadStatic] private static float[]? attention;
    [ThreadStatic] private static float[]? quantized;
    [ThreadStatic] private static float[]? rowScales;
    [ThreadStatic] private static float[]? projections;

    /// <summary>At least <paramref name="floats"/> floats for packed activations, valid until this thread asks again.</summary>
    public static float* Panels(long floats) => Get(ref panels, floats);

    /// <summary>At least <paramref name="floats"/> floats for the attention kernel (separate from <see cref="Panels"/>, which its products use).</summary>
    public static float* Attention(long floats) => Get(ref attention, floats);

    /// <summary>
    /// At least <paramref name="values"/> 32-bit values for a product's quantised activations, valid until this thread
    /// asks again. Kept rather than rented per call: batch after batch of other lengths took fresh pool arrays, and their
    /// first writes were a third of a `te embed` run's page faults after its first pass.
    /// </summary>
    public static int* Quantized(long values) => (int*)Get(ref quantized, values);

    /// <summary>At least <paramref name="floats"/> floats for a group of sequences' query, key and value (the attention kernel's projection, read while in cache).</summary>
    public static float* Projections(long floats) => Get(ref projections, floats);

    /// <summary>At least <paramref name="floats"/> floats for a product's per-row activation scales, as <see cref="Quantized"/>.</summary>
    public static float* RowScales(long floats) => Get(ref rowScales, floats);

    private static float* Get(ref float[]? buffer, long floats)
    {
        if (buffer is null || buffer.Length < floats)
            buffer = GC.AllocateUninitializedArray<float>(checked((int)Math.Max(floats, Math.Max(4096, (buffer?.Length ?? 0) * 3L / 2))), pinned: true);
        return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
    }
}

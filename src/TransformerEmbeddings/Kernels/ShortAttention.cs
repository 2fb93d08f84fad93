using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels;

/// <summary>
/// Multi-head attention for a few CPU fp32 tokens, read straight from the fused QKV projection and written straight
/// into merged heads: <c>softmax(q·kᵀ / √d + mask) · v</c> per (batch, head), HF's eager formula. For one short
/// sentence libtorch's SDPA kernel and the permute and merge copies around it cost 3–5× the arithmetic (measured at
/// 1×16 tokens: 0.04 ms here vs 0.11–0.20 ms for SDPA per layer); from a few hundred tokens on SDPA's blocking is as
/// fast or faster, so the model routes only small batches here (<see cref="MaxTokens"/>).
/// </summary>
internal static unsafe class ShortAttention
{
    /// <summary>The longest sequence this kernel takes; longer ones go to libtorch's blocked SDPA.</summary>
    public const int MaxLength = 128;

    /// <summary>The most tokens (batch × length) routed here; larger batches go to libtorch's SDPA.</summary>
    public const int MaxTokens = 128;

    private const int MaxHeadDim = 128;

    /// <summary>Whether the model uses this kernel where it can run (tests turn it off to compare with libtorch).</summary>
    public static bool Enabled { get; set; } = true;

    /// <summary>Whether <see cref="Forward"/> can take this projection.</summary>
    /// <param name="projected">(B, S, 3H) fused projection.</param>
    /// <param name="additiveMask">(B, 1, 1, S) additive mask or null.</param>
    /// <param name="headDim">The head size.</param>
    public static bool Accepts(Tensor projected, Tensor? additiveMask, int headDim) =>
        Enabled && Sgemm.IsSupported
        && projected.device_type == DeviceType.CPU && projected.dtype == ScalarType.Float32 && projected.dim() == 3
        && projected.shape[1] <= MaxLength && projected.shape[0] * projected.shape[1] <= MaxTokens && headDim % 8 == 0 && headDim <= MaxHeadDim
        && (additiveMask is null || (additiveMask.dtype == ScalarType.Float32 && additiveMask.device_type == DeviceType.CPU))
        && !(is_grad_enabled() && projected.requires_grad);

    /// <summary>The attention context, merged back to (B, S, H).</summary>
    /// <param name="projected">(B, S, 3H): each token's query, key and value, heads side by side.</param>
    /// <param name="additiveMask">(B, 1, 1, S): 0 on real keys, a large negative value on padding; or null.</param>
    /// <param name="heads">The number of heads.</param>
    /// <param name="headDim">The head size.</param>
    /// <returns>A new (B, S, H) tensor owned by the caller.</returns>
    public static Tensor Forward(Tensor projected, Tensor? additiveMask, int heads, int headDim)
    {
        int b = checked((int)projected.shape[0]), s = checked((int)projected.shape[1]);
        int h = heads * headDim;
        if (projected.shape[2] != 3 * h) throw new ArgumentException($"Expected (B, S, {3 * h}), got ({string.Join(", ", projected.shape)}).", nameof(projected));
        var y = empty(b, s, h);
        if (b * s == 0) return y;
        var p = projected.is_contiguous() ? projected : projected.contiguous();
        var m = additiveMask is null ? null : additiveMask.is_contiguous() ? additiveMask : additiveMask.contiguous();
        try
        {
            var job = new Job
            {
                Projected = Pointer(p), Mask = m is null ? null : Pointer(m), Output = Pointer(y),
                Length = s, Heads = heads, HeadDim = headDim, Divisor = MathF.Sqrt(headDim),
            };
            long work = (long)b * heads * s * s * headDim;
            TileWorkers.For(b * heads, work < (1L << 16) ? 1 : get_num_threads(), &job, &Item);
        }
        finally
        {
            if (!ReferenceEquals(p, projected)) p.Dispose();
            if (m is not null && !ReferenceEquals(m, additiveMask)) m.Dispose();
        }
        return y;
    }

    private static float* Pointer(Tensor t) => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));

    private struct Job
    {
        public float* Projected, Mask, Output;
        public int Length, Heads, HeadDim;
        public float Divisor;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Item(void* context, int item)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        int s = job.Length, d = job.HeadDim, nh = job.Heads, hidden = nh * d;
        int batch = item / nh, head = item % nh;
        int padded = (s + 7) & ~7;
        float* keysT = stackalloc float[d * padded];     // (d, S) so eight scores come from one vector FMA chain
        float* scores = stackalloc float[padded];
        float* rows = job.Projected + (long)batch * s * 3 * hidden;
        float* mask = job.Mask is null ? null : job.Mask + (long)batch * s;

        for (int j = 0; j < padded; j++)
        {
            float* key = rows + (long)j * 3 * hidden + hidden + head * d;
            for (int c = 0; c < d; c++) keysT[c * padded + j] = j < s ? key[c] : 0f;
        }

        var divisor = Vector256.Create(job.Divisor);
        var minusInfinity = Vector256.Create(float.NegativeInfinity);
        for (int i = 0; i < s; i++)
        {
            // Scores, eight keys per vector and four vectors at a time (independent FMA chains).
            float* query = rows + (long)i * 3 * hidden + head * d;
            int j = 0;
            for (; j + 32 <= padded; j += 32)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                float* kt = keysT + j;
                for (int c = 0; c < d; c++, kt += padded)
                {
                    var q = Avx.BroadcastScalarToVector256(query + c);
                    a0 = Fma.MultiplyAdd(q, Avx.LoadVector256(kt), a0);
                    a1 = Fma.MultiplyAdd(q, Avx.LoadVector256(kt + 8), a1);
                    a2 = Fma.MultiplyAdd(q, Avx.LoadVector256(kt + 16), a2);
                    a3 = Fma.MultiplyAdd(q, Avx.LoadVector256(kt + 24), a3);
                }
                Avx.Store(scores + j, Avx.Divide(a0, divisor));
                Avx.Store(scores + j + 8, Avx.Divide(a1, divisor));
                Avx.Store(scores + j + 16, Avx.Divide(a2, divisor));
                Avx.Store(scores + j + 24, Avx.Divide(a3, divisor));
            }
            for (; j < padded; j += 8)
            {
                Vector256<float> a0 = default;
                float* kt = keysT + j;
                for (int c = 0; c < d; c++, kt += padded)
                    a0 = Fma.MultiplyAdd(Avx.BroadcastScalarToVector256(query + c), Avx.LoadVector256(kt), a0);
                Avx.Store(scores + j, Avx.Divide(a0, divisor));
            }
            if (mask is not null)
                for (j = 0; j < s; j++) scores[j] += mask[j];
            for (j = s; j < padded; j++) scores[j] = float.NegativeInfinity;

            // Softmax: exp(x − max) / Σ.
            var max = minusInfinity;
            for (j = 0; j < padded; j += 8) max = Avx.Max(max, Avx.LoadVector256(scores + j));
            var top = Vector256.Create(HorizontalMax(max));
            var total = Vector256<float>.Zero;
            for (j = 0; j < padded; j += 8)
            {
                var e = Exp(Avx.Subtract(Avx.LoadVector256(scores + j), top));
                Avx.Store(scores + j, e);
                total = Avx.Add(total, e);
            }
            var sum = Vector256.Create(Vector256.Sum(total));
            for (j = 0; j < padded; j += 8) Avx.Store(scores + j, Avx.Divide(Avx.LoadVector256(scores + j), sum));

            // Context: Σⱼ pⱼ vⱼ, the head's dimensions eight at a time.
            float* output = job.Output + ((long)batch * s + i) * hidden + head * d;
            float* values = rows + 2 * hidden + head * d;
            int c0 = 0;
            for (; c0 + 32 <= d; c0 += 32)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                float* v = values + c0;
                for (j = 0; j < s; j++, v += 3 * hidden)
                {
                    var pj = Avx.BroadcastScalarToVector256(scores + j);
                    a0 = Fma.MultiplyAdd(pj, Avx.LoadVector256(v), a0);
                    a1 = Fma.MultiplyAdd(pj, Avx.LoadVector256(v + 8), a1);
                    a2 = Fma.MultiplyAdd(pj, Avx.LoadVector256(v + 16), a2);
                    a3 = Fma.MultiplyAdd(pj, Avx.LoadVector256(v + 24), a3);
                }
                Avx.Store(output + c0, a0);
                Avx.Store(output + c0 + 8, a1);
                Avx.Store(output + c0 + 16, a2);
                Avx.Store(output + c0 + 24, a3);
            }
            for (; c0 < d; c0 += 8)
            {
                var a0 = Vector256<float>.Zero;
                float* v = values + c0;
                for (j = 0; j < s; j++, v += 3 * hidden)
                    a0 = Fma.MultiplyAdd(Avx.BroadcastScalarToVector256(scores + j), Avx.LoadVector256(v), a0);
                Avx.Store(output + c0, a0);
            }
        }
    }

    private static float HorizontalMax(Vector256<float> v)
    {
        var m = Sse.Max(v.GetLower(), v.GetUpper());
        m = Sse.Max(m, Sse.Shuffle(m, m, 0b_01_00_11_10));
        m = Sse.Max(m, Sse.Shuffle(m, m, 0b_10_11_00_01));
        return m.ToScalar();
    }

    /// <summary>
    /// eˣ to about one ulp (Cephes <c>expf</c>: x = n·ln2 + r, a degree-6 polynomial in r, then 2ⁿ through the exponent
    /// bits); exactly 0 below −87.3, where the float result would underflow — so masked keys weigh nothing, as in torch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Exp(Vector256<float> x)
    {
        var underflow = Avx.CompareLessThan(x, Vector256.Create(-87.33654f));
        x = Avx.Min(Avx.Max(x, Vector256.Create(-87.33654f)), Vector256.Create(88.37626f));
        var n = Avx.RoundToNearestInteger(Avx.Multiply(x, Vector256.Create(1.44269504088896341f)));
        var r = Fma.MultiplyAddNegated(n, Vector256.Create(0.693359375f), x);
        r = Fma.MultiplyAddNegated(n, Vector256.Create(-2.12194440e-4f), r);
        var p = Vector256.Create(1.9875691500E-4f);
        p = Fma.MultiplyAdd(p, r, Vector256.Create(1.3981999507E-3f));
        p = Fma.MultiplyAdd(p, r, Vector256.Create(8.3334519073E-3f));
        p = Fma.MultiplyAdd(p, r, Vector256.Create(4.1665795894E-2f));
        p = Fma.MultiplyAdd(p, r, Vector256.Create(1.6666665459E-1f));
        p = Fma.MultiplyAdd(p, r, Vector256.Create(5.0000001201E-1f));
        p = Fma.MultiplyAdd(p, Avx.Multiply(r, r), Avx.Add(r, Vector256.Create(1f)));
        var scale = Avx2.ShiftLeftLogical(Avx2.Add(Avx.ConvertToVector256Int32(n), Vector256.Create(127)), 23).AsSingle();
        return Avx.AndNot(underflow, Avx.Multiply(p, scale));
    }
}

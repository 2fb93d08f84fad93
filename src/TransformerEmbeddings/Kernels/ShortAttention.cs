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
/// 1×16 tokens: 0.04 ms here vs 0.11–0.20 ms for SDPA per layer). Both products run on <see cref="Sgemm"/>'s
/// micro-kernel, with each head's keys and values packed like weights.
/// </summary>
internal static unsafe class ShortAttention
{
    /// <summary>The longest sequence this kernel takes; longer ones go to libtorch's blocked SDPA.</summary>
    public const int MaxLength = 128;

    /// <summary>The longest sequence the model routes here. Up to 16 tokens this kernel is clearly faster than libtorch's
    /// SDPA (1×16: 0.03–0.05 vs 0.13–0.15 ms per layer; 32×16: 1.2–2.1 vs 2.1–3.8 ms); from 17 to 48 tokens the two
    /// tie within this machine's noise (and the kernel saves the permute and merge copies); beyond, SDPA's blocking wins.</summary>
    public const int RoutedMaxLength = 48;

    private const int MaxHeadDim = 64;

    /// <summary>Whether the model uses this kernel where it can run, for calls made on this thread (on by default; tests turn it off to compare with libtorch). Per thread, so
    /// switching it off for a comparison never changes a forward pass running elsewhere.</summary>
    public static bool Enabled { get => !disabled; set => disabled = !value; }

    [ThreadStatic] private static bool disabled;

    /// <summary>Whether <see cref="Forward"/> can take this projection.</summary>
    /// <param name="projected">(B, S, 3H) fused projection.</param>
    /// <param name="additiveMask">(B, 1, 1, S) additive mask or null.</param>
    /// <param name="headDim">The head size.</param>
    public static bool Accepts(Tensor projected, Tensor? additiveMask, int headDim) =>
        Enabled && Sgemm.IsSupported
        && projected.device_type == DeviceType.CPU && projected.dtype == ScalarType.Float32 && projected.dim() == 3
        && projected.shape[1] <= RoutedMaxLength && headDim % Sgemm.PanelWidth == 0 && headDim <= MaxHeadDim
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
        if (headDim % Sgemm.PanelWidth != 0 || headDim > MaxHeadDim || s > MaxLength)
            throw new ArgumentException($"Head size {headDim} and length {s} are outside this kernel's range; check Accepts first.", nameof(headDim));
        if (projected.shape[2] != 3 * h) throw new ArgumentException($"Expected (B, S, {3 * h}), got ({string.Join(", ", projected.shape)}).", nameof(projected));
        var y = empty(b, s, h);
        if (b * s == 0) return y;
        var p = projected.is_contiguous() ? projected : projected.contiguous();
        var m = additiveMask is null ? null : additiveMask.is_contiguous() ? additiveMask : additiveMask.contiguous();
        try
        {
            var job = new Job
            {
                Projected = TensorMemory.Floats(p), Mask = m is null ? null : TensorMemory.Floats(m), Output = TensorMemory.Floats(y),
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
        int s = job.Length, d = job.HeadDim, nh = job.Heads, hidden = nh * d, stride = 3 * hidden;
        int batch = item / nh, head = item % nh;
        int width = (s + Sgemm.PanelWidth - 1) & ~(Sgemm.PanelWidth - 1);   // keys padded to whole panels
        float* rows = job.Projected + (long)batch * s * stride;
        float* mask = job.Mask is null ? null : job.Mask + (long)batch * s;

        // Both products run on the GEMM micro-kernel: keys and values are packed like weights (panels of 16).
        float* keys = stackalloc float[d * width];     // panel-major: keys[(j / 16) · d · 16 + c · 16 + j % 16] = k_j[c]
        float* values = stackalloc float[s * d];       // values[(c / 16) · S · 16 + j · 16 + c % 16] = v_j[c]
        float* scores = stackalloc float[s * width];
        float* zeros = stackalloc float[Math.Max(width, d)];
        new Span<float>(zeros, Math.Max(width, d)).Clear();
        for (int j = 0; j < width; j++)
        {
            float* key = rows + (long)j * stride + hidden + head * d;
            float* panel = keys + (j / Sgemm.PanelWidth) * d * Sgemm.PanelWidth + j % Sgemm.PanelWidth;
            for (int c = 0; c < d; c++) panel[c * Sgemm.PanelWidth] = j < s ? key[c] : 0f;
        }
        for (int j = 0; j < s; j++)
        {
            float* value = rows + (long)j * stride + 2 * hidden + head * d;
            for (int c = 0; c < d; c += Sgemm.PanelWidth)
                new ReadOnlySpan<float>(value + c, Sgemm.PanelWidth).CopyTo(new Span<float>(values + c * s + j * Sgemm.PanelWidth, Sgemm.PanelWidth));
        }

        // scores = q · kᵀ   (S × width: the zero keys of the last panel give whole tiles; they are masked below)
        var qk = new Sgemm.Problem { X = rows + head * d, LdX = stride, W = keys, Bias = zeros, Y = scores, LdY = width, Rows = s, K = d, N = width };
        Sgemm.Run(in qk, 0, (s + Sgemm.RowBlock - 1) / Sgemm.RowBlock, 0, width / Sgemm.PanelWidth);

        var divisor = Vector256.Create(job.Divisor);
        for (int i = 0; i < s; i++)
        {
            float* row = scores + i * width;
            int j;
            for (j = 0; j < width; j += 8) Avx.Store(row + j, Avx.Divide(Avx.LoadVector256(row + j), divisor));
            if (mask is not null)
                for (j = 0; j < s; j++) row[j] += mask[j];
            for (j = s; j < width; j++) row[j] = float.NegativeInfinity;

            // Softmax: exp(x − max) / Σ.
            var max = Vector256.Create(float.NegativeInfinity);
            for (j = 0; j < width; j += 8) max = Avx.Max(max, Avx.LoadVector256(row + j));
            var top = Vector256.Create(VectorMath.HorizontalMax(max));
            var total = Vector256<float>.Zero;
            for (j = 0; j < width; j += 8)
            {
                var e = VectorMath.Exp(Avx.Subtract(Avx.LoadVector256(row + j), top));
                Avx.Store(row + j, e);
                total = Avx.Add(total, e);
            }
            var sum = Vector256.Create(Vector256.Sum(total));
            for (j = 0; j < width; j += 8) Avx.Store(row + j, Avx.Divide(Avx.LoadVector256(row + j), sum));
        }

        // context = p · v, written into this head's columns of the merged output
        var pv = new Sgemm.Problem
        {
            X = scores, LdX = width, W = values, Bias = zeros, Y = job.Output + (long)batch * s * hidden + head * d, LdY = hidden,
            Rows = s, K = s, N = d,
        };
        Sgemm.Run(in pv, 0, (s + Sgemm.RowBlock - 1) / Sgemm.RowBlock, 0, d / Sgemm.PanelWidth);
    }
}

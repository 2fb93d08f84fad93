using CsCheck;
using TransformerEmbeddings.Kernels.Gemm;
using Xunit;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>
/// Packing a layer's weights for the kernels (done on the first forward pass, panels shared among threads): the same
/// values as the plain one-channel-at-a-time definition, on one thread or several, for panel edges, odd K, all-zero
/// channels and values that round half-way; and the arena that holds them, reserved ahead.
/// </summary>
public sealed class WeightPackingTests
{
    /// <summary>The definition: channel n's scale is max |w| / 2047; q = w · (2047 / max) rounded to nearest even.</summary>
    private static (short[] Values, float[] Scales) Reference(float[] w, int n, int k, int width)
    {
        int pairs = (k + 1) / 2, panels = (n + width - 1) / width;
        var values = new short[panels * pairs * 2 * width];
        var scales = new float[panels * width];
        for (int c = 0; c < n; c++)
        {
            float max = 0;
            for (int i = 0; i < k; i++) max = MathF.Max(max, MathF.Abs(w[c * k + i]));
            float inverse = max > 0 ? Qgemm.Levels / max : 0;
            scales[c] = max / Qgemm.Levels;
            for (int i = 0; i < k; i++)
                values[(c / width * pairs + i / 2) * 2 * width + c % width * 2 + i % 2] = (short)MathF.Round(w[c * k + i] * inverse, MidpointRounding.ToEven);
        }
        return (values, scales);
    }

    private static float[] Weights(int n, int k, int seed)
    {
        var rnd = new Random(seed);
        var w = KernelTables.Random(rnd, n * k, 0.2);
        if (n > 2) Array.Clear(w, k, k); // an all-zero channel
        if (n > 3 && k > 8)
        {
            // Channel 3 has max 2047, so its values scale by exactly 1: half-way values must round to even.
            for (int i = 0; i < k; i++) w[3 * k + i] = (i % 8 - 4) + 0.5f;
            w[3 * k] = Qgemm.Levels;
        }
        return w;
    }

    [Fact]
    public void Twelve_bit_panels_match_the_definition_on_any_thread_count()
    {
        Gen.Select(Gen.Int[1, 150], Gen.Int[1, 300], Gen.Int[0, 2].Select(i => new[] { 8, 16, 48 }[i]), Gen.Int[0, 1000]).Sample((n, k, width, seed) =>
        {
            var w = Weights(n, k, seed);
            var b = KernelTables.Random(new Random(seed), n);
            var (values, scales) = Reference(w, n, k, width);
            foreach (var threads in new[] { 1, 2, 3 })
            {
                var packed = Int16Weights.Pack(w, b, n, k, width, threads: threads);
                Assert.Equal(values, packed.Values.ToArray());
                Assert.Equal(scales, packed.Scales);
                Assert.Equal(b, packed.Bias.Take(n));
            }
        }, iter: 60);
    }

    [Fact]
    public void A_non_finite_weight_is_named_by_its_first_channel_on_any_thread_count()
    {
        var w = Weights(200, 20, 1);
        w[150 * 20 + 7] = float.PositiveInfinity;
        w[60 * 20 + 3] = float.NaN;
        foreach (var threads in new[] { 1, 2 })
        {
            var e = Assert.Throws<ArgumentException>(() => Int16Weights.Pack(w, [], 200, 20, 48, threads: threads));
            Assert.Contains("channel 60 ", e.Message);
        }
    }

    [Fact]
    public void Float32_panels_hold_each_channel_NR_apart_on_any_thread_count()
    {
        Gen.Select(Gen.Int[1, 150], Gen.Int[1, 300], Gen.Int[0, 2].Select(i => new[] { 8, 16, 48 }[i]), Gen.Int[0, 1000]).Sample((n, k, width, seed) =>
        {
            var w = Weights(n, k, seed);
            int panels = (n + width - 1) / width;
            var expected = new float[panels * width * k];
            for (int c = 0; c < n; c++)
                for (int i = 0; i < k; i++) expected[(c / width * k + i) * width + c % width] = w[c * k + i];
            foreach (var threads in new[] { 1, 2, 3 })
                Assert.Equal(expected, PackedWeights.Pack(w, [], n, k, width, threads: threads).Values.ToArray());
        }, iter: 60);
    }

    [Fact]
    public unsafe void A_reserved_arena_serves_the_packing_from_memory_mapped_ahead()
    {
        var arena = new WeightArena();
        arena.Reserve(40L << 20);
        Assert.Equal(1, arena.Blocks);
        // Layers packed one after another, as a forward pass does: all from the reserved block.
        for (int layer = 0; layer < 5; layer++)
        {
            var p = arena.Allocate<float>(2_000_000, out var owner);
            Assert.NotNull(owner);
            Assert.Equal(0, (long)p % 64);
            Assert.True(new ReadOnlySpan<float>(p, 2_000_000).IndexOfAnyExcept(0f) < 0);
        }
        Assert.Equal(1, arena.Blocks);
        arena.Allocate<float>(2_000_000, out _); // 48 MB > 40 MB: a new block
        Assert.Equal(2, arena.Blocks);
        arena.Reserve(1 << 20); // room is left: nothing new
        Assert.Equal(2, arena.Blocks);

        // A model larger than the cap gets one capped block ahead and the rest as it packs (a managed array stays < 2 GB).
        var capped = new WeightArena(maxReserve: 24L << 20);
        capped.Reserve(5L << 30);
        Assert.Equal(1, capped.Blocks);
        capped.Allocate<float>(6L << 20, out _); // 24 MB: fits the reserved block exactly
        Assert.Equal(1, capped.Blocks);
        capped.Allocate<float>(1, out _);
        Assert.Equal(2, capped.Blocks);
    }
}

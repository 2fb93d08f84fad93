using CsCheck;
using TorchSharp;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Kernels.Gemm;
using TransformerEmbeddings.Kernels.Linear;
using TransformerEmbeddings.Runtime;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>
/// The fast mode's 8-bit layers (attention's query and output): the same integer GEMM at
/// <see cref="Qgemm.ByteLevels"/>, as 16-bit integers on every instruction set and as bytes (<see cref="Qgemm8"/>,
/// <c>vpdpbusd</c>) where AVX512-VNNI runs, all with the same bits; their quantisation; the split query-key-value layer;
/// and which layers the fast mode binds to 8 bits.
/// </summary>
public sealed class Qgemm8Tests
{
    public Qgemm8Tests() => NativeRuntime.EnsureLoaded();

    /// <summary>Every way this machine computes an 8-bit layer: each integer table's 16-bit kernel, and the byte kernel where it runs.</summary>
    private static IEnumerable<(string Name, CpuLinear Linear)> EightBitLayers(float[] w, float[] b, int n, int k)
    {
        foreach (var table in KernelTables.Integer())
            yield return (table.ToString(), Int16Linear.FromWeights(w, b, n, k, table, Qgemm.ByteLevels));
        if (Qgemm8.IsAvailable) yield return ("bytes", Int16Linear.FromWeightsAsBytes(w, b, n, k));
    }

    [Fact]
    public void The_byte_kernel_runs_wherever_the_AVX512_VNNI_kernel_runs()
    {
        Assert.Equal(QgemmAvx512Vnni.IsAvailable, Qgemm8.IsAvailable);
        if (!Qgemm8.IsAvailable) Assert.Throws<PlatformNotSupportedException>(() => Int16Linear.FromWeightsAsBytes(new float[4], [], 1, 4).Forward(new float[4], new float[1], 1));
    }

    [Fact]
    public void Every_way_of_computing_an_8_bit_layer_gives_the_same_bits()
    {
        // Rows around the 8-row tiles, K around the quads and across two and three flushes (384 inputs each), N around
        // the 48-wide panels; the fused GELU; one thread and two.
        Gen.Select(Gen.Int[1, 40], Gen.Int[1, 1200], Gen.Int[1, 110], Gen.Bool, Gen.Int[0, 1000]).Sample((m, k, n, gelu, seed) =>
        {
            var rnd = new Random(seed);
            var w = KernelTables.Random(rnd, n * k, 0.1);
            var b = seed % 3 == 0 ? [] : KernelTables.Random(rnd, n);
            var x = KernelTables.Random(rnd, m * k, 2);
            x[rnd.Next(m * k)] = 40; // an outlier, as in MiniLM's residual stream
            float[]? reference = null;
            foreach (var (name, linear) in EightBitLayers(w, b, n, k))
                foreach (var threads in new[] { 1, 2 })
                {
                    var y = new float[m * n];
                    linear.Forward(x, y, m, threads, gelu);
                    if (reference is null) reference = y;
                    else Assert.True(reference.AsSpan().SequenceEqual(y), $"{name}, {threads} threads, {m}×{k}×{n}, GELU {gelu}: other bits");
                }
        }, iter: 40);
    }

    [Fact]
    public void Eight_bits_are_the_integer_arithmetic_of_the_8_bit_values()
    {
        Gen.Select(Gen.Int[1, 20], Gen.Int[1, 800], Gen.Int[1, 60], Gen.Int[0, 1000]).Sample((m, k, n, seed) =>
        {
            var rnd = new Random(seed);
            var w = KernelTables.Random(rnd, n * k, 0.1);
            var b = KernelTables.Random(rnd, n);
            var x = KernelTables.Random(rnd, m * k, 2);
            var y = new float[m * n];
            var (_, linear) = EightBitLayers(w, b, n, k).Last();
            linear.Forward(x, y, m);
            var qw = new short[n][];
            var sw = new float[n];
            for (int c = 0; c < n; c++) sw[c] = Qgemm.Quantize(w.AsSpan(c * k, k), qw[c] = new short[k + 1], Qgemm.ByteLevels);
            for (int r = 0; r < m; r++)
            {
                var qx = new short[k + 1];
                float sx = Qgemm.Quantize(x.AsSpan(r * k, k), qx, Qgemm.ByteLevels);
                Assert.All(qx, v => Assert.InRange(v, -Qgemm.ByteLevels, Qgemm.ByteLevels));
                for (int c = 0; c < n; c++)
                {
                    long sum = 0;
                    for (int i = 0; i < k; i++) sum += qx[i] * (long)qw[c][i];
                    double expected = (double)sx * sw[c] * sum + b[c];
                    double magnitude = Math.Abs((double)sx * sw[c] * Qgemm.ByteLevels * Qgemm.ByteLevels * k) + 1;
                    Assert.True(Math.Abs(y[r * n + c] - expected) <= 1e-6 * magnitude, $"{m}×{k}×{n} [{r}, {c}]: {y[r * n + c]} vs {expected}");
                }
            }
        }, iter: 20);
    }

    [Fact]
    public unsafe void Byte_quantisation_is_the_8_bit_values_plus_128()
    {
        Gen.Int[1, 100].Select(Gen.Int[0, 1000]).Sample((k, seed) =>
        {
            var x = KernelTables.Random(new Random(seed), k, 3);
            var shorts = new short[k + 3];
            float expectedScale = Qgemm.Quantize(x, shorts, Qgemm.ByteLevels);
            int quads = (k + 3) / 4;
            var bytes = new byte[4 * quads];
            float scale;
            fixed (float* px = x)
            fixed (byte* pq = bytes)
                Qgemm8.Quantize(px, k, pq, quads, &scale);
            Assert.Equal(expectedScale, scale);
            for (int i = 0; i < k; i++) Assert.Equal(shorts[i] + 128, bytes[i]);
            for (int i = k; i < bytes.Length; i++) Assert.Equal(128, bytes[i]); // padding is a zero
        }, iter: 100);
    }

    [Fact]
    public void A_row_with_NaN_gives_NaN_and_leaves_the_other_rows_alone()
    {
        var rnd = new Random(3);
        int m = 9, k = 44, n = 50;
        var w = KernelTables.Random(rnd, n * k);
        foreach (var (name, linear) in EightBitLayers(w, [], n, k))
        {
            var x = KernelTables.Random(rnd, m * k);
            var clean = new float[m * n];
            linear.Forward(x, clean, m);
            x[3 * k + 5] = float.NaN;
            var y = new float[m * n];
            linear.Forward(x, y, m);
            for (int r = 0; r < m; r++)
                for (int c = 0; c < n; c++)
                    if (r == 3) Assert.True(float.IsNaN(y[r * n + c]), name);
                    else Assert.Equal(clean[r * n + c], y[r * n + c]);
        }
    }

    [Fact]
    public void Threads_change_nothing_bit_for_bit()
    {
        var rnd = new Random(5);
        int m = 300, k = 800, n = 200;
        var w = KernelTables.Random(rnd, n * k, 0.1);
        var b = KernelTables.Random(rnd, n);
        var x = KernelTables.Random(rnd, m * k);
        foreach (var (_, linear) in EightBitLayers(w, b, n, k))
            LinearKernelAssert.ThreadsChangeNothing(linear, x, m);
    }

    [Fact]
    public void A_split_layer_writes_each_part_into_its_columns()
    {
        var rnd = new Random(11);
        int m = 37, k = 72, h = 50;
        var table = KernelTable.For(KernelTable.Best == InstructionSet.None ? InstructionSet.Scalar : KernelTable.Best);
        var (wq, wv) = (KernelTables.Random(rnd, 2 * h * k, 0.1), KernelTables.Random(rnd, h * k, 0.1));
        var (bq, bv) = (KernelTables.Random(rnd, 2 * h), KernelTables.Random(rnd, h));
        var parts = new CpuLinear[] { Int16Linear.FromWeights(wq, bq, 2 * h, k, table, Qgemm.ByteLevels), Int16Linear.FromWeights(wv, bv, h, k, table) };
        var split = new SplitLinear(parts);
        Assert.Equal(3 * h, split.OutFeatures);
        Assert.True(split.IsPacked);
        var x = KernelTables.Random(rnd, m * k, 2);
        var y = new float[m * 3 * h];
        split.Forward(x, y, m, threads: 2);
        var first = new float[m * 2 * h];
        var second = new float[m * h];
        parts[0].Forward(x, first, m);
        parts[1].Forward(x, second, m);
        for (int r = 0; r < m; r++)
        {
            Assert.True(y.AsSpan(r * 3 * h, 2 * h).SequenceEqual(first.AsSpan(r * 2 * h, 2 * h)), $"row {r}: the first part's columns");
            Assert.True(y.AsSpan(r * 3 * h + 2 * h, h).SequenceEqual(second.AsSpan(r * h, h)), $"row {r}: the second part's columns");
        }
        Assert.Throws<ArgumentException>(() => new SplitLinear([]));
        Assert.Throws<ArgumentException>(() => new SplitLinear([parts[0], Int16Linear.FromWeights(new float[3 * 5], [], 3, 5, table)]));
    }

    [Fact]
    public void The_fast_mode_gives_query_and_attention_output_8_bits_and_the_rest_12()
    {
        var isa = KernelTable.Best == InstructionSet.None ? InstructionSet.Scalar : KernelTable.Best;
        var backend = new ComputeBackend(new ComputePlan(ScalarType.Float32, LinearMath.Int16, isa, "test", isa == InstructionSet.Avx512 && QgemmAvx512Vnni.IsAvailable));
        using var scope = NewDisposeScope();
        Tensor W() => randn(24, 24);
        Tensor B() => randn(24);
        var qkv = Assert.IsType<SplitLinear>(backend.QueryKeyValue(W(), W(), W(), B(), B(), B()));
        var levels = qkv.Parts.Cast<Int16Linear>().Select(p => (p.OutFeatures, p.Levels)).ToArray();
        Assert.Equal([(24, Qgemm.ByteLevels), (48, Qgemm.Levels)], levels);
        var output = Assert.IsType<Int16Linear>(backend.Linear(W(), B(), LinearRole.AttentionOutput));
        Assert.Equal(Qgemm.ByteLevels, output.Levels);
        Assert.Equal(backend.Table!.Avx512Vnni && Qgemm8.IsAvailable, output.MultipliesBytes);
        Assert.Equal(Qgemm.Levels, Assert.IsType<Int16Linear>(backend.Linear(W(), B())).Levels);

        // The exact mode has no 8-bit layer: one fp32 product for query, key and value.
        var exact = new ComputeBackend(new ComputePlan(ScalarType.Float32, LinearMath.Float32, isa, "test"));
        Assert.IsType<Float32Linear>(exact.QueryKeyValue(W(), W(), W(), B(), B(), B()));
        Assert.IsType<Float32Linear>(exact.Linear(W(), B(), LinearRole.AttentionOutput));
    }
}

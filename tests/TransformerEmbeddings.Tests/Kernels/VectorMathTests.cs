using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using TransformerEmbeddings.Kernels;
using TransformerEmbeddings.Runtime;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>The fused elementwise functions against double-precision references, over their whole useful range.</summary>
public sealed class VectorMathTests
{
    public VectorMathTests() => NativeRuntime.EnsureLoaded();

    private static float[] Grid(float from, float to, int count) =>
        Enumerable.Range(0, count).Select(i => from + (to - from) * i / (count - 1)).ToArray();

    private static float[] Apply(float[] xs, Func<Vector256<float>, Vector256<float>> f)
    {
        var ys = new float[xs.Length];
        for (int i = 0; i < xs.Length; i += 8)
        {
            var chunk = new float[8];
            Array.Copy(xs, i, chunk, 0, Math.Min(8, xs.Length - i));
            var r = f(Vector256.Create(chunk));
            for (int j = 0; j < 8 && i + j < xs.Length; j++) ys[i + j] = r.GetElement(j);
        }
        return ys;
    }

    [Fact]
    public void Exp_is_within_a_few_ulp_and_exactly_zero_where_floats_underflow()
    {
        var xs = Grid(-87f, 88f, 20001);
        var ys = Apply(xs, VectorMath.Exp);
        for (int i = 0; i < xs.Length; i++)
        {
            double exact = Math.Exp(xs[i]);
            // ≈ 2.5 ulp relative; results near the bottom of the normal range keep an absolute floor.
            Assert.True(Math.Abs(ys[i] - exact) <= 3e-7 * exact + 1e-44,
                $"exp({xs[i]}) = {ys[i]}, expected {exact}");
        }
        var masked = Apply([float.MinValue, -1e30f, -100f, float.NegativeInfinity], VectorMath.Exp);
        Assert.All(masked, y => Assert.Equal(0f, y));
    }

    [Fact]
    public void Gelu_matches_torch_exact_gelu_in_double_precision()
    {
        var xs = Grid(-12f, 12f, 24001);
        var ys = Apply(xs, VectorMath.Gelu);
        using var reference = tensor(xs).to(ScalarType.Float64).gelu();
        var exact = reference.data<double>().ToArray();
        for (int i = 0; i < xs.Length; i++)
            Assert.True(Math.Abs(ys[i] - exact[i]) <= 4e-7 + 2e-7 * Math.Abs(exact[i]), $"gelu({xs[i]}) = {ys[i]}, expected {exact[i]}");
    }

    [Fact]
    public void The_fast_modes_gelu_is_within_a_millionth_of_the_exact_one()
    {
        var xs = Grid(-12f, 12f, 24001);
        var ys = Apply(xs, VectorMath.GeluFast);
        using var reference = tensor(xs).to(ScalarType.Float64).gelu();
        var exact = reference.data<double>().ToArray();
        double worst = 0;
        for (int i = 0; i < xs.Length; i++) worst = Math.Max(worst, Math.Abs(ys[i] - exact[i]));
        Assert.InRange(worst, 0, 1e-6);
        Assert.True(worst > 1e-8, "the fast GELU is an approximation; a perfect match means the test compares the wrong function");
        Assert.Equal(0f, VectorMath.GeluFast(0f));
        Assert.True(float.IsNaN(VectorMath.GeluFast(float.NaN)));
    }

    [Fact]
    public void Every_width_gives_the_same_bits()
    {
        // The kernels pick 16, 8 or 1 lanes by CPU and by what is left of a row: all must agree exactly.
        var xs = Grid(-90f, 90f, 40000).Concat([float.MinValue, float.MaxValue, float.NegativeInfinity, float.PositiveInfinity, -0f, 0f, 1e-30f, -1e-30f]).ToArray();
        var expGelu = new (Func<Vector256<float>, Vector256<float>> V8, Func<Vector512<float>, Vector512<float>> V16, Func<float, float> V1, string Name)[]
        {
            (VectorMath.Exp, VectorMath.Exp, VectorMath.Exp, "exp"),
            (VectorMath.Gelu, VectorMath.Gelu, VectorMath.Gelu, "gelu"),
            (VectorMath.GeluFast, VectorMath.GeluFast, VectorMath.GeluFast, "fast gelu"),
        };
        foreach (var (v8, v16, v1, name) in expGelu)
        {
            var eight = Apply(xs, v8);
            for (int i = 0; i < xs.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(eight[i]) == BitConverter.SingleToInt32Bits(v1(xs[i])) || (float.IsNaN(eight[i]) && float.IsNaN(v1(xs[i]))),
                    $"{name}({xs[i]}): 8 lanes {eight[i]}, scalar {v1(xs[i])}");
            if (!Avx512F.IsSupported) continue;
            for (int i = 0; i + 16 <= xs.Length; i += 16)
            {
                var r = v16(Vector512.Create(xs.AsSpan(i, 16)));
                for (int j = 0; j < 16; j++) Assert.Equal(BitConverter.SingleToInt32Bits(eight[i + j]), BitConverter.SingleToInt32Bits(r.GetElement(j)));
            }
        }
    }
}

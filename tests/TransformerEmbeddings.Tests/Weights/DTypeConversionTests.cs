using TransformerEmbeddings.Weights;
using Xunit;

namespace TransformerEmbeddings.Tests.Weights;

public class DTypeConversionTests
{
    [Theory]
    [InlineData((ushort)0x3F80, 1.0f)]
    [InlineData((ushort)0xC000, -2.0f)]
    [InlineData((ushort)0x3E20, 0.15625f)]
    [InlineData((ushort)0x0000, 0.0f)]
    [InlineData((ushort)0x7F80, float.PositiveInfinity)]
    [InlineData((ushort)0x0001, 9.18355e-41f)] // smallest bf16 subnormal = 2^-133
    public void BFloat16(ushort bits, float expected)
    {
        Assert.Equal(expected, DTypeConversion.BFloat16ToSingle(bits));
        var converted = DTypeConversion.ToFloat32Array([(byte)bits, (byte)(bits >> 8)], SafeTensorsDType.BF16);
        Assert.Equal(expected, Assert.Single(converted));
    }

    [Theory]
    [InlineData((ushort)0x3C00, 1.0f)]
    [InlineData((ushort)0xC000, -2.0f)]
    [InlineData((ushort)0x7BFF, 65504f)]
    [InlineData((ushort)0x0001, 5.9604645e-8f)] // 2^-24
    [InlineData((ushort)0x3555, 0.33325195f)]
    [InlineData((ushort)0xFC00, float.NegativeInfinity)]
    public void Half(ushort bits, float expected)
    {
        Assert.Equal(expected, DTypeConversion.HalfToSingle(bits));
        var converted = DTypeConversion.ToFloat32Array([(byte)bits, (byte)(bits >> 8)], SafeTensorsDType.F16);
        Assert.Equal(expected, Assert.Single(converted));
    }

    [Fact]
    public void Nan_and_negative_zero_survive()
    {
        Assert.True(float.IsNaN(DTypeConversion.BFloat16ToSingle(0x7FC0)));
        Assert.True(float.IsNaN(DTypeConversion.HalfToSingle(0x7E00)));
        Assert.True(float.IsNegative(DTypeConversion.BFloat16ToSingle(0x8000)));
        Assert.True(float.IsNegative(DTypeConversion.HalfToSingle(0x8000)));
    }

    [Fact]
    public void F64_and_F32()
    {
        var doubles = new[] { 1.0, 0.1, -1e300, 1e-50 };
        var f = DTypeConversion.ToFloat32Array(doubles.SelectMany(BitConverter.GetBytes).ToArray(), SafeTensorsDType.F64);
        Assert.Equal(new[] { 1.0f, 0.1f, float.NegativeInfinity, 0f }, f);
        var singles = new[] { 1.5f, -0.25f };
        Assert.Equal(singles, DTypeConversion.ToFloat32Array(singles.SelectMany(BitConverter.GetBytes).ToArray(), SafeTensorsDType.F32));
    }

    [Fact]
    public void Argument_checks()
    {
        Assert.Throws<ArgumentException>(() => DTypeConversion.ToFloat32Array(new byte[3], SafeTensorsDType.F16));
        Assert.Throws<ArgumentException>(() => DTypeConversion.ToFloat32Array(new byte[4], SafeTensorsDType.I32));
        Assert.Throws<ArgumentException>(() => DTypeConversion.ToFloat32(new byte[4], SafeTensorsDType.F16, new float[3]));
        Assert.False(DTypeConversion.CanConvertToFloat32(SafeTensorsDType.F8_E4M3));
    }

    [Fact]
    public void Element_sizes_and_names()
    {
        foreach (var d in Enum.GetValues<SafeTensorsDType>())
        {
            Assert.Equal(d.ToString(), d.ToHeaderString());
            Assert.True(SafeTensorsDTypeExtensions.TryParse(d.ToHeaderString(), out var back));
            Assert.Equal(d, back);
            Assert.Contains(d.ElementSize(), new[] { 1, 2, 4, 8 });
        }

        Assert.Equal(2, SafeTensorsDType.BF16.ElementSize());
        Assert.Equal(8, SafeTensorsDType.I64.ElementSize());
        Assert.Equal(1, SafeTensorsDType.F8_E5M2.ElementSize());
        Assert.False(SafeTensorsDTypeExtensions.TryParse("bf16", out _));
    }
}

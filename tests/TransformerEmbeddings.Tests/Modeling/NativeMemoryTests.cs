using TorchSharp;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace TransformerEmbeddings.Tests.Modeling;

/// <summary>
/// Native tensors are released deterministically, and a plain encode keeps nothing beyond its result:
/// measured with TorchSharp's per-thread live-tensor count and the bytes the output holds.
/// </summary>
public sealed class NativeMemoryTests(ITestOutputHelper log)
{
    private static long Live => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    private static long HeldBytes(EncoderOutput o) =>
        new[] { o.InputIds, o.AttentionMask, o.TokenTypeIds, o.PositionIds, o.LastHiddenState }
            .Concat(o.PoolerOutput is null ? [] : [o.PoolerOutput])
            .Concat(o.CapturedNames.Select(n => o[n]))
            .Distinct().Sum(t => t.NumberOfElements * t.ElementSize);

    [Fact]
    public void A_plain_forward_keeps_only_its_result_and_releases_everything_on_dispose()
    {
        var m = ModelCache.Get("all-MiniLM-L6-v2");
        var g = ModelCache.Golden("all-MiniLM-L6-v2");
        using var inputs = EncoderInputs.Create(GoldenTensors.RealRows(g["input_ids"], g["attention_mask"]), 0);
        m.Encode(inputs).Dispose(); // warm-up

        var before = Live;
        long plainBytes, everythingBytes;
        using (var plain = m.Encode(inputs))
        {
            // ids, mask, types, positions, last_hidden_state, pooler_output: nothing else survives the forward pass.
            Assert.Equal(before + 6, Live);
            Assert.Empty(plain.CapturedNames);
            plainBytes = HeldBytes(plain);
        }
        Assert.Equal(before, Live);

        using (var everything = m.Encode(inputs, CaptureOptions.Everything))
            everythingBytes = HeldBytes(everything);
        Assert.Equal(before, Live);

        var (b, s, h) = (inputs.BatchSize, inputs.SequenceLength, m.HiddenSize);
        var minimum = 4L * b * s * 8 + (long)b * s * h * 4 + (long)b * h * 4; // four int64 (B,S) + last + pooler
        Assert.Equal(minimum, plainBytes);
        log.WriteLine($"plain encode holds {plainBytes:N0} bytes (the minimum); capturing everything holds {everythingBytes:N0} bytes");
        Assert.True(everythingBytes > 10 * plainBytes);
    }

    [Fact]
    public void Failed_calls_leak_nothing()
    {
        var m = ModelCache.Get("bert-tiny-uncased");
        using var inputs = EncoderInputs.Create([new[] { 101, 2000, 102 }], 0);
        m.Encode(inputs).Dispose();
        var before = Live;
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Encode(inputs, new CaptureOptions { Kinds = ActivationKind.All, Layers = [7] }));
        Assert.Throws<ArgumentException>(() => m.Encode(inputs, new CaptureOptions { HeadMask = [[1f]] }));
        Assert.Equal(before, Live);
    }
}

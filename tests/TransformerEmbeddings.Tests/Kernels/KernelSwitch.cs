using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>Runs a model with one CPU kernel on, then off, and compares the outputs.</summary>
internal static class KernelSwitch
{
    private static readonly string[] Texts =
        ["The kernel computes the same layer.", "Short", "A somewhat longer sentence, with punctuation, to pad the batch."];

    /// <summary>
    /// The last hidden state with the kernel on and off (<paramref name="enable"/> toggles it) agrees within 1e-5 of the
    /// largest value: libtorch and the kernels round differently, and six layers of LayerNorm grow that to a few 1e-6.
    /// </summary>
    public static void AssertSameOutput(string modelName, Action<bool> enable)
    {
        var model = ModelCache.Get(modelName);
        using var withKernel = model.Encode(Texts);
        float[] fast = withKernel.LastHiddenState.data<float>().ToArray();
        try
        {
            enable(false);
            using var without = model.Encode(Texts);
            float[] reference = without.LastHiddenState.data<float>().ToArray();
            Assert.Equal(reference.Length, fast.Length);
            var scale = reference.Max(Math.Abs);
            var worst = reference.Zip(fast, (a, p) => Math.Abs(a - p)).Max();
            Assert.True(worst < 1e-5f * scale, $"max diff {worst} (largest value {scale})");
        }
        finally
        {
            enable(true);
        }
    }
}

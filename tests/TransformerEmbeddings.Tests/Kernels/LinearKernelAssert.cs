using TransformerEmbeddings.Kernels.Linear;
using Xunit;

namespace TransformerEmbeddings.Tests.Kernels;

/// <summary>Checks every CPU linear kernel needs.</summary>
internal static class LinearKernelAssert
{
    /// <summary>One thread, every core, and eight concurrent callers sharing the worker threads give the same bits.</summary>
    public static void ThreadsChangeNothing(CpuLinear kernel, float[] x, int rows)
    {
        var one = new float[rows * kernel.OutFeatures];
        var many = new float[rows * kernel.OutFeatures];
        kernel.Forward(x, one, rows, threads: 1);
        kernel.Forward(x, many, rows, threads: Environment.ProcessorCount);
        Assert.Equal(one, many);
        var results = new float[8][];
        Parallel.For(0, results.Length, i =>
        {
            results[i] = new float[rows * kernel.OutFeatures];
            kernel.Forward(x, results[i], rows, threads: Environment.ProcessorCount);
        });
        foreach (var r in results) Assert.Equal(one, r);
    }
}

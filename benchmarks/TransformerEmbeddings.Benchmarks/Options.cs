using System.Globalization;
using TransformerEmbeddings.Runtime;

namespace TransformerEmbeddings.Benchmarks;

internal sealed class Options
{
    public int Threads { get; set; } = Environment.ProcessorCount;
    public string Mode { get; set; } = "exact";
    public int Reps { get; set; } = 2;
    public int? Sentences { get; set; }
    public int BatchSize { get; set; } = 32;
    public double GridSeconds { get; set; } = 3;
    public bool SkipGrid { get; set; }
    public bool SkipSts { get; set; }
    public bool SkipStartup { get; set; }
    public bool WithLibtorch { get; set; }
    public string Engine { get; set; } = "ours";
    public List<string> Rest { get; } = [];

    /// <summary>The B×S shapes to run instead of the grid (<c>--shapes 8x512,32x128</c>).</summary>
    public (int B, int S)[]? Shapes { get; set; }

    public double CosineTarget => Mode == "fast" ? 0.999 : 0.99999;

    /// <summary>Forces the library's kernels (scalar, avx2, avx512, none = libtorch only); the CPU's best when null.</summary>
    public TransformerEmbeddings.Kernels.InstructionSet? Isa { get; set; }

    /// <summary>Keeps the fast mode on the AVX-512 intrinsics integer kernel instead of the AVX512-VNNI machine code (comparisons).</summary>
    public bool NoAvx512Vnni { get; set; }

    /// <summary>compare, fast mode: also runs the model on the intrinsics integer kernel, to time the AVX512-VNNI one against it.</summary>
    public bool WithIntrinsics { get; set; }

    public ModelOptions ModelOptions() => new()
    {
        Precision = Mode == "fast" ? Precision.Fast : Precision.Float32,
        Kernels = Isa,
        Cpu = NoAvx512Vnni ? CpuFeatures.Current with { Avx512Vnni = false } : null,
    };

    public string PathDescription(string computePath) => $"{computePath} (chosen by the library from the CPU's features: {Machine.Features()})";

    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => args[++i];
            switch (args[i])
            {
                case "--threads": o.Threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--mode": o.Mode = Next(); break;
                case "--reps": o.Reps = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--sentences": o.Sentences = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--batch": o.BatchSize = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--grid-seconds": o.GridSeconds = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--no-grid": o.SkipGrid = true; break;
                case "--no-sts": o.SkipSts = true; break;
                case "--no-startup": o.SkipStartup = true; break;
                case "--with-libtorch": o.WithLibtorch = true; break;
                case "--engine": o.Engine = Next(); break;
                case "--shapes":
                    o.Shapes = [.. Next().Split(',').Select(x => x.Split('x')).Select(p => (int.Parse(p[0], CultureInfo.InvariantCulture), int.Parse(p[1], CultureInfo.InvariantCulture)))];
                    break;
                case "--no-avx512-vnni": o.NoAvx512Vnni = true; break;
                case "--with-intrinsics": o.WithIntrinsics = true; break;
                case "--isa": o.Isa = Enum.Parse<TransformerEmbeddings.Kernels.InstructionSet>(Next(), ignoreCase: true); break;
                default: o.Rest.Add(args[i]); break;
            }
        }
        return o;
    }
}

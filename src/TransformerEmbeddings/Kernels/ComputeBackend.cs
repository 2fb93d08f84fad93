using TransformerEmbeddings.Kernels.Attention;
using TransformerEmbeddings.Kernels.Gemm;
using TransformerEmbeddings.Kernels.Linear;
using TransformerEmbeddings.Runtime;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels;

/// <summary>
/// Binds each module of a model to its kernels once, at load, from the <see cref="ComputePlan"/>: every
/// <c>Dense</c> gets a <see cref="LinearKernel"/>, every self-attention an <see cref="AttentionKernel"/>, every add &amp;
/// norm its instruction set. The forward pass then has one path; the precision travels with the model.
/// </summary>
internal sealed class ComputeBackend
{
    /// <summary>The backend of a plan.</summary>
    public ComputeBackend(ComputePlan plan)
    {
        Plan = plan;
        Table = plan.Isa == InstructionSet.None ? null : KernelTable.For(plan.Isa, plan.Avx512Vnni);
    }

    /// <summary>libtorch for everything (weights of any dtype and device).</summary>
    public static ComputeBackend Libtorch { get; } = new(new ComputePlan(ScalarType.Float32, LinearMath.Libtorch, InstructionSet.None, "libtorch"));

    /// <summary>The plan.</summary>
    public ComputePlan Plan { get; }

    /// <summary>The micro-kernels, or null when libtorch computes everything.</summary>
    public KernelTable? Table { get; }

    /// <summary>Where this model's packed weights live (huge pages, mapped at once).</summary>
    private readonly Gemm.WeightArena arena = new();

    /// <summary>The instruction set of the add &amp; norm kernel (<see cref="InstructionSet.None"/>: libtorch).</summary>
    public InstructionSet AddNorm => Table?.Isa ?? InstructionSet.None;

    /// <summary>The kernel for a linear layer with this (N, K) weight and (N) bias.</summary>
    /// <param name="weight">The weight.</param>
    /// <param name="bias">The bias, or null.</param>
    /// <param name="role">Where the layer sits: the fast mode quantises the attention output to 8 bits, the rest to 12.</param>
    public LinearKernel Linear(Tensor weight, Tensor? bias, LinearRole role = LinearRole.Other) => Bound((Plan.Linears, Table) switch
    {
        (LinearMath.Float32, { } table) => new Float32Linear(weight, bias, table, arena),
        (LinearMath.Int16, { } table) => new Int16Linear(weight, bias, table, arena, role == LinearRole.AttentionOutput ? Qgemm.ByteLevels : Qgemm.Levels),
        _ => new TorchLinear(weight, bias),
    });

    /// <summary>One kernel for weights stacked row-wise (attention's query, key and value) and their biases (one per weight, or none).</summary>
    public LinearKernel Linear(IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> biases)
    {
        // Once stacked, the parts' own kernels are off the forward path: the stack is what gets packed ahead.
        lock (packing) packable.RemoveAll(k => k.ReadsAnyOf(weights));
        return Bound((Plan.Linears, Table) switch
        {
            (LinearMath.Float32, { } table) => new Float32Linear(weights, biases, table, arena),
            (LinearMath.Int16, { } table) => new Int16Linear(weights, biases, table, arena),
            _ => TorchLinear.Stacked(weights, biases),
        });
    }

    /// <summary>
    /// Attention's query, key and value as one (3H, H) product. The fast mode quantises the query to 8 bits (the scores'
    /// softmax dilutes its error) and key and value to 12: an 8-bit value cost MiniLM 0.009 of cosine, an 8-bit key
    /// 2.5× what the query costs (docs/performance.md). One kernel per block of columns, writing the one output.
    /// </summary>
    public LinearKernel QueryKeyValue(Tensor query, Tensor key, Tensor value, Tensor queryBias, Tensor keyBias, Tensor valueBias)
    {
        if (Plan.Linears != LinearMath.Int16 || Table is not { } table) return Linear([query, key, value], [queryBias, keyBias, valueBias]);
        lock (packing) packable.RemoveAll(k => k.ReadsAnyOf([query, key, value]));
        return Bound(new SplitLinear([
            new Int16Linear([query], [queryBias], table, arena, Qgemm.ByteLevels),
            new Int16Linear([key, value], [keyBias, valueBias], table, arena),
        ]));
    }

    private readonly object packing = new();
    private List<CpuLinear> packable = [];

    private LinearKernel Bound(LinearKernel kernel)
    {
        if (kernel is CpuLinear cpu)
            lock (packing) packable.Add(cpu);
        return kernel;
    }

    /// <summary>
    /// The kernels bound since the last call that pack their weights on first use, in model order (for
    /// <see cref="CpuLinear.Prepare"/> ahead of the first pass); later kernels start a new list.
    /// </summary>
    public IReadOnlyList<CpuLinear> TakePackedLinears()
    {
        lock (packing)
        {
            var taken = packable;
            packable = [];
            return taken;
        }
    }

    /// <summary>Maps the memory that <paramref name="values"/> linear-layer weights will take once packed (nothing when
    /// libtorch runs the linear layers).</summary>
    public void ReserveLinearWeights(long values)
    {
        var bytes = Plan.Linears switch
        {
            LinearMath.Float32 when Table is not null => values * sizeof(float),
            LinearMath.Int16 when Table is not null => values * sizeof(short),
            _ => 0,
        };
        try
        {
            arena.Reserve(bytes);
        }
        catch (OutOfMemoryException)
        {
            // Only a head start: packing allocates what it needs (and reports the shortage) itself.
        }
    }

    /// <summary>The attention core for a layer with these heads.</summary>
    public AttentionKernel Attention(int heads, int headDim) =>
        Table is { } table ? new CpuAttention(heads, headDim, table) : new TorchAttention(heads, headDim);
}

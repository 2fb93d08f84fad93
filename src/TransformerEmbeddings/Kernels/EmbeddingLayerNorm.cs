using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Kernels;

/// <summary>
/// BERT's embedding sum and its LayerNorm in one pass: <c>LayerNorm((x + T[type]) + P[position])</c> per token, HF's
/// order of additions, the rows of the two tables read where they lie, into a new tensor (the word rows <c>x</c> may be
/// a captured lookup, so they are not overwritten). Replaces two lookups, two additions and libtorch's layer_norm — five
/// passes over the activations and four allocations per forward pass. The normalisation is
/// <see cref="ResidualLayerNorm"/>'s. Ids outside a table are left to libtorch, which reports them.
/// </summary>
internal static unsafe class EmbeddingLayerNorm
{
    private const int RowsPerItem = 64;

    /// <summary>The sum's LayerNorm, or null when these tensors are not for this kernel (then compute it with libtorch).</summary>
    /// <param name="x">(B, S, H) the word rows.</param>
    /// <param name="types">(types, H) the token type table.</param>
    /// <param name="typeIds">(B, S) int64.</param>
    /// <param name="positions">(positions, H) the position table.</param>
    /// <param name="positionIds">(B, S) int64.</param>
    /// <param name="weight">γ (H).</param>
    /// <param name="bias">β (H).</param>
    /// <param name="eps">Added to the variance.</param>
    /// <param name="isa">The vector width to use (<see cref="InstructionSet.None"/>: none of this kernel).</param>
    public static Tensor? TryApply(Tensor x, Tensor types, Tensor typeIds, Tensor positions, Tensor positionIds, Tensor weight, Tensor bias, double eps, InstructionSet isa)
    {
        if (isa == InstructionSet.None || x.dim() != 3 || !Float32Cpu(x) || !Float32Cpu(types) || !Float32Cpu(positions) || !Float32Cpu(weight) || !Float32Cpu(bias)
            || !Int64Cpu(typeIds) || !Int64Cpu(positionIds))
            return null;
        // BERT's position ids are one row expanded over the batch (stride 0): a dense copy of the few ids is cheap.
        using var typesDense = typeIds.is_contiguous() ? null : typeIds.contiguous();
        using var positionsDense = positionIds.is_contiguous() ? null : positionIds.contiguous();
        typeIds = typesDense ?? typeIds;
        positionIds = positionsDense ?? positionIds;
        long h = x.shape[2], tokens = x.shape[0] * x.shape[1];
        if (types.dim() != 2 || positions.dim() != 2 || types.shape[1] != h || positions.shape[1] != h || weight.NumberOfElements != h || bias.NumberOfElements != h
            || typeIds.NumberOfElements != tokens || positionIds.NumberOfElements != tokens
            || !typeIds.shape.SequenceEqual(x.shape[..2]) || !positionIds.shape.SequenceEqual(x.shape[..2]))
            return null;
        long* t = (long*)TensorMemory.Bytes(typeIds), p = (long*)TensorMemory.Bytes(positionIds);
        ulong typeRows = (ulong)types.shape[0], positionRows = (ulong)positions.shape[0]; // (shape is a native call: not in the loop)
        for (long i = 0; i < tokens; i++)
            if ((ulong)t[i] >= typeRows || (ulong)p[i] >= positionRows) return null;
        var y = TensorMemory.Output(x.shape);
        if (tokens == 0) return y;
        var job = new Job
        {
            X = TensorMemory.Floats(x), Y = TensorMemory.Floats(y), Types = TensorMemory.Floats(types), Positions = TensorMemory.Floats(positions),
            TypeIds = t, PositionIds = p, Weight = TensorMemory.Floats(weight), Bias = TensorMemory.Floats(bias),
            Rows = checked((int)tokens), H = checked((int)h), Eps = (float)eps, Lanes = ResidualLayerNorm.Lanes(isa, checked((int)h)),
        };
        int items = (job.Rows + RowsPerItem - 1) / RowsPerItem;
        TileWorkers.For(items, tokens * h < (1L << 17) ? 1 : get_num_threads(), &job, &Item);
        return y;
    }

    private static bool Float32Cpu(Tensor t) => t.device_type == DeviceType.CPU && t.dtype == ScalarType.Float32 && t.is_contiguous();

    private static bool Int64Cpu(Tensor t) => t.device_type == DeviceType.CPU && t.dtype == ScalarType.Int64;

    private struct Job
    {
        public float* X, Y, Types, Positions, Weight, Bias;
        public long* TypeIds, PositionIds;
        public int Rows, H;
        public float Eps;
        public int Lanes;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Item(void* context, int item)
    {
        ref var job = ref Unsafe.AsRef<Job>(context);
        int h = job.H, end = Math.Min(job.Rows, (item + 1) * RowsPerItem);
        for (int r = item * RowsPerItem; r < end; r++)
        {
            float* x = job.X + (long)r * h, y = job.Y + (long)r * h;
            float* type = job.Types + job.TypeIds[r] * h, position = job.Positions + job.PositionIds[r] * h;
            if (job.Lanes >= 8)
            {
                for (int j = 0; j < h; j += 8)
                    Avx.Store(y + j, Avx.Add(Avx.Add(Avx.LoadVector256(x + j), Avx.LoadVector256(type + j)), Avx.LoadVector256(position + j)));
            }
            else
            {
                for (int j = 0; j < h; j++) y[j] = (x[j] + type[j]) + position[j];
            }
            ResidualLayerNorm.NormalizeRow(y, job.Weight, job.Bias, h, job.Eps, job.Lanes);
        }
    }
}

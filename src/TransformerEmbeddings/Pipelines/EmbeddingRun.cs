using System.Diagnostics;
using System.Runtime.InteropServices;
using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.Tokenization;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Pipelines;

/// <summary>
/// One embedding call: texts arrive in windows of <see cref="BatchOptions.SortWindow"/>; each window is tokenized,
/// split into units (a text, or one window of a long text), planned into token-budget passes (<see cref="BatchPlanner"/>),
/// and each pass runs the model and the embedder's pooling. Results are written once, straight from the
/// pooled tensor into where the caller gets them (<see cref="VectorTarget"/>), and handed out in input order.
/// </summary>
internal sealed class EmbeddingRun
{
    private readonly SentenceEmbedder embedder;
    private readonly EmbeddingOptions options;
    private readonly IProgress<EmbeddingProgress>? progress;
    private readonly CancellationToken cancellation;
    private readonly string? prompt;
    private readonly int promptTokens;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private long emitted, tokens, padded, truncated;

    public EmbeddingRun(SentenceEmbedder embedder, EmbeddingOptions? options, IProgress<EmbeddingProgress>? progress, CancellationToken cancellation)
    {
        this.embedder = embedder;
        this.options = options ??= EmbeddingOptions.Default;
        this.progress = progress;
        this.cancellation = cancellation;
        ArgumentNullException.ThrowIfNull(options.Batching, nameof(options.Batching));
        options.Batching.Validate();
        if (options.TruncateDimension is < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.TruncateDimension, "TruncateDimension must be at least 1.");
        if (options.SkipTexts < 0) throw new ArgumentOutOfRangeException(nameof(options), options.SkipTexts, "SkipTexts cannot be negative.");
        if (options.LongTexts == LongTextHandling.SlidingWindow && options.Output != EmbeddingOutput.SentenceVector)
            throw new ArgumentException("LongTextHandling.SlidingWindow averages sentence vectors; it cannot give token vectors.", nameof(options));
        Limit = embedder.MaxSequenceLength;
        Lanes = embedder.ParallelPasses(options.Batching.ParallelPasses);
        prompt = options.Prompt ?? embedder.ResolvePrompt(options.PromptName);
        promptTokens = embedder.PromptTokens(prompt);
        var content = Limit - embedder.SpecialTokenCount;
        Overlap = options.WindowOverlap ?? content / 4;
        if (options.LongTexts == LongTextHandling.SlidingWindow && (Overlap < 0 || Overlap >= content))
            throw new ArgumentOutOfRangeException(nameof(options), Overlap, $"WindowOverlap must lie in 0..{content - 1} (a window holds {content} text tokens).");
    }

    public EmbeddingOptions Options => options;

    /// <summary>The token limit (special tokens included).</summary>
    public int Limit { get; }

    private int Overlap { get; }

    /// <summary>How many passes run side by side (<see cref="PassSchedule{T}"/>), and on how many threads each.</summary>
    private (int Count, int Threads) Lanes { get; }

    public int WindowSize => options.Batching.SortWindow;

    public void Report(bool completed) =>
        progress?.Report(new EmbeddingProgress(emitted, tokens, padded, truncated, clock.Elapsed, completed));

    public Window Begin(IReadOnlyList<string> texts, long firstIndex, VectorTarget target) => new(this, texts, firstIndex, target);

    /// <summary>Where each text's values go: a new array per text (streaming) or a row of one matrix (a list call).</summary>
    internal abstract class VectorTarget
    {
        /// <summary>The place for text <paramref name="index"/> (window slot <paramref name="slot"/>); called once per text.</summary>
        public abstract Span<float> Rent(int slot, long index, int length);

        /// <summary>The place given out earlier for a text.</summary>
        public abstract Span<float> Get(int slot, long index);
    }

    /// <summary>A new managed array per text, taken by the caller when the text is handed out.</summary>
    internal sealed class PerTextTarget(int window) : VectorTarget
    {
        private readonly float[]?[] slots = new float[]?[window];

        public override Span<float> Rent(int slot, long index, int length) => slots[slot] = new float[length];

        public override Span<float> Get(int slot, long index) => slots[slot];

        public float[] Take(int slot)
        {
            var v = slots[slot]!;
            slots[slot] = null;
            return v;
        }
    }

    /// <summary>One (count, dimension) row-major matrix for a whole list; the dimension is the first vector's length.</summary>
    internal sealed class MatrixTarget(long count) : VectorTarget
    {
        public float[]? Buffer { get; private set; }

        public int Dimension { get; private set; }

        public override Span<float> Rent(int slot, long index, int length)
        {
            if (Buffer is null)
            {
                Dimension = length;
                Buffer = new float[checked(count * length)];
            }
            return Get(slot, index);
        }

        public override Span<float> Get(int slot, long index) => Buffer.AsSpan(checked((int)(index * Dimension)), Dimension);
    }

    /// <summary>One window of consecutive texts, run pass by pass.</summary>
    internal sealed class Window
    {
        private readonly EmbeddingRun run;
        private readonly long first;
        private readonly VectorTarget target;
        private readonly int count;
        private readonly long skipBelow;

        // Per text (window slot).
        private readonly TokenizedText[] tokenized;
        private readonly int[] remaining;      // units not yet done
        private readonly int[] totalWeight;    // sliding window: text tokens of all its windows
        private readonly int[] windows;        // units per text
        private readonly int[] rows;           // 1, or the token count for token vectors
        private readonly bool[] ready;

        // Per unit: a whole text, or one window of a long one.
        private readonly List<int> unitSlot = [];
        private readonly List<int[]?> unitIds = [];   // null: the text's own tokenization
        private readonly List<int> unitPrompt = [];
        private readonly List<int> unitWeight = [];   // text tokens of a window
        private readonly List<int[]> batches;
        private PassSchedule<PassResult>? schedule;
        private readonly List<(int Item, PassResult Result)> finished = [];
        private int nextEmit;
        private bool unreported;

        public Window(EmbeddingRun run, IReadOnlyList<string> texts, long firstIndex, VectorTarget target)
        {
            this.run = run;
            first = firstIndex;
            this.target = target;
            count = texts.Count;
            skipBelow = run.options.SkipTexts;
            var embedder = run.embedder;
            var prepared = new string[count];
            for (var i = 0; i < count; i++)
            {
                var text = texts[i] ?? throw new ArgumentException($"Text {firstIndex + i} is null.", nameof(texts));
                prepared[i] = embedder.Prepare(run.prompt is null ? text : run.prompt + text);
            }
            var sliding = run.options.LongTexts == LongTextHandling.SlidingWindow;
            // Sliding windows need the whole text; the other modes tokenize only up to the limit (HF's early stop).
            tokenized = new TokenizedText[count];
            var tokenizer = embedder.Model.Tokenizer;
            var limit = sliding ? int.MaxValue : run.Limit;
            // Texts of this window done by an earlier run are tokenized too, so that the passes are planned as before.
            Parallel.For(0, count, i => tokenized[i] = tokenizer.Encode(prepared[i], limit));
            remaining = new int[count];
            totalWeight = new int[count];
            windows = new int[count];
            rows = new int[count];
            ready = new bool[count];
            var lengths = new List<int>(count);
            for (var i = 0; i < count; i++)
            {
                var t = tokenized[i];
                if (firstIndex + i < skipBelow) ready[i] = true; // done by an earlier run: planned, never handed out
                if (t.Truncated)
                {
                    if (run.options.LongTexts == LongTextHandling.Refuse)
                        throw new TextTooLongException(firstIndex + i, t.Count + t.TruncatedTokenCount, run.Limit);
                    if (firstIndex + i >= skipBelow) run.truncated++;
                }
                if (sliding && t.Count > run.Limit) AddWindows(i, t, lengths);
                else
                {
                    AddUnit(i, null, run.promptTokens, lengths, t.Count, 1);
                    totalWeight[i] = 1;
                }
            }
            batches = BatchPlanner.Plan(CollectionsMarshal.AsSpan(lengths), run.options.Batching);
        }

        private void AddUnit(int slot, int[]? ids, int promptLength, List<int> lengths, int length, int weight)
        {
            unitSlot.Add(slot);
            unitIds.Add(ids);
            unitPrompt.Add(promptLength);
            unitWeight.Add(weight);
            lengths.Add(length);
            remaining[slot]++;
            windows[slot]++;
        }

        /// <summary>Overlapping windows of the limit's size, each with the text's leading and trailing special tokens.</summary>
        private void AddWindows(int slot, TokenizedText t, List<int> lengths)
        {
            var special = t.SpecialTokensMask;
            var prefix = 0;
            while (prefix < t.Count && special[prefix] == 1) prefix++;
            var suffix = 0;
            while (suffix < t.Count - prefix && special[t.Count - 1 - suffix] == 1) suffix++;
            var content = t.Count - prefix - suffix;
            var size = run.Limit - prefix - suffix;
            var stride = size - run.Overlap;
            for (var start = 0; ; start += stride)
            {
                var length = Math.Min(size, content - start);
                var ids = new int[prefix + length + suffix];
                for (var j = 0; j < prefix; j++) ids[j] = t.Ids[j];
                for (var j = 0; j < length; j++) ids[prefix + j] = t.Ids[prefix + start + j];
                for (var j = 0; j < suffix; j++) ids[prefix + length + j] = t.Ids[prefix + content + j];
                AddUnit(slot, ids, start == 0 ? run.promptTokens : 0, lengths, ids.Length, length);
                totalWeight[slot] += length;
                if (start + length >= content) break;
            }
        }

        /// <summary>
        /// Runs the next pass that holds a text still to do and applies every finished pass in order (passes run ahead
        /// on the other lanes meanwhile, <see cref="PassSchedule{T}"/>); false when none is left.
        /// </summary>
        public bool Step()
        {
            schedule ??= new PassSchedule<PassResult>(batches.Count, run.Lanes.Count, run.Lanes.Threads,
                b => Needed(batches[b]), b => Compute(batches[b]), run.cancellation);
            if (!schedule.Step(finished)) return false;
            foreach (var (b, result) in finished) Apply(batches[b], result);
            return true;
        }

        /// <summary>Starts no further pass and waits for the ones running (a caller that stops reading early).</summary>
        public void Stop() => schedule?.Stop();

        private bool Needed(int[] batch)
        {
            foreach (var u in batch)
                if (first + unitSlot[u] >= skipBelow) return true;
            return false;
        }

        /// <summary>The next texts, in input order, whose results are complete (texts done by an earlier run are passed over).</summary>
        public bool TryNext(out int slot)
        {
            while (nextEmit < count && ready[nextEmit])
            {
                slot = nextEmit++;
                if (first + slot < skipBelow) continue;
                run.emitted++;
                return true;
            }
            slot = -1;
            // Reported once the pass's texts were handed out, so the count is of texts the caller has.
            if (unreported) run.Report(completed: false);
            unreported = false;
            return false;
        }

        public bool Finished => nextEmit == count;

        public int Rows(int slot) => rows[slot];

        public TokenizedText Tokenization(int slot) => tokenized[slot];

        public int Windows(int slot) => windows[slot];

        /// <summary>One pass's vectors, copied out of its tensors: (batch, width) sentence vectors, or (batch, sequence, width) token vectors.</summary>
        private sealed record PassResult(float[] Values, int Sequence, int Width);

        /// <summary>Runs one pass; touches no state of the window, so passes can run side by side.</summary>
        private PassResult Compute(int[] batch)
        {
            var embedder = run.embedder;
            using var call = embedder.EnterCall(); // the embedder's Dispose waits for this pass
            var model = embedder.Model;
            var whole = true;
            foreach (var u in batch) whole &= unitIds[u] is null;
            EncoderInputs inputs;
            if (whole)
            {
                var texts = new TokenizedText[batch.Length];
                for (var j = 0; j < batch.Length; j++) texts[j] = tokenized[unitSlot[batch[j]]];
                inputs = EncoderInputs.Create(texts, model.Tokenizer.PadTokenId);
            }
            else
            {
                var ids = new IReadOnlyList<int>[batch.Length];
                for (var j = 0; j < batch.Length; j++) ids[j] = unitIds[batch[j]] ?? tokenized[unitSlot[batch[j]]].Ids;
                inputs = EncoderInputs.Create(ids, model.Tokenizer.PadTokenId);
            }

            using var scope = NewDisposeScope();
            using (inputs)
            {
                using var output = embedder.Encode(inputs);
                var s = output.SequenceLength;
                if (run.options.Output == EmbeddingOutput.TokenVectors)
                {
                    var states = output.LastHiddenState.to(ScalarType.Float32).cpu().contiguous();
                    return new PassResult(MemoryMarshal.Cast<byte, float>(states.bytes).ToArray(), s, (int)states.shape[2]);
                }
                int[]? prompts = null;
                for (var j = 0; j < batch.Length; j++)
                {
                    if (unitPrompt[batch[j]] == 0) continue;
                    prompts ??= new int[batch.Length];
                    prompts[j] = unitPrompt[batch[j]];
                }
                var pooled = embedder.Pool(output, prompts, run.options.TruncateDimension, run.options.Normalize);
                return new PassResult(MemoryMarshal.Cast<byte, float>(pooled.bytes).ToArray(), s, (int)pooled.shape[1]);
            }
        }

        /// <summary>Hands one pass's vectors to their texts and counts its tokens (in pass order, on the stepping thread).</summary>
        private void Apply(int[] batch, PassResult result)
        {
            var s = result.Sequence;
            long real = 0;
            for (var j = 0; j < batch.Length; j++) real += UnitLength(batch[j]);
            run.tokens += real;
            run.padded += (long)s * batch.Length;
            var data = result.Values.AsSpan();
            if (run.options.Output == EmbeddingOutput.TokenVectors)
            {
                var h = result.Width;
                for (var j = 0; j < batch.Length; j++)
                {
                    var slot = unitSlot[batch[j]];
                    if (first + slot < skipBelow) continue;
                    var n = UnitLength(batch[j]);
                    data.Slice(j * s * h, n * h).CopyTo(target.Rent(slot, first + slot, n * h));
                    rows[slot] = n;
                    ready[slot] = true;
                }
            }
            else
            {
                var d = result.Width;
                for (var j = 0; j < batch.Length; j++)
                {
                    var u = batch[j];
                    var slot = unitSlot[u];
                    if (first + slot < skipBelow) continue;
                    var row = data.Slice(j * d, d);
                    rows[slot] = 1;
                    if (unitIds[u] is null)
                    {
                        row.CopyTo(target.Rent(slot, first + slot, d));
                        ready[slot] = --remaining[slot] == 0;
                        continue;
                    }
                    Accumulate(slot, u, row);
                }
            }
            unreported = true;
        }

        /// <summary>Sliding window: adds one window's vector weighted by its text tokens; the last one divides by their sum.</summary>
        private void Accumulate(int slot, int unit, ReadOnlySpan<float> row)
        {
            var index = first + slot;
            var sum = remaining[slot] == windows[slot] ? Clear(target.Rent(slot, index, row.Length)) : target.Get(slot, index);
            float weight = unitWeight[unit];
            for (var i = 0; i < row.Length; i++) sum[i] += weight * row[i];
            if (--remaining[slot] > 0) return;
            var scale = 1f / totalWeight[slot];
            for (var i = 0; i < sum.Length; i++) sum[i] *= scale;
            if (run.options.Normalize || run.embedder.EndsNormalized) L2Normalization.Normalize(sum, sum);
            ready[slot] = true;
        }

        private static Span<float> Clear(Span<float> s)
        {
            s.Clear();
            return s;
        }

        private int UnitLength(int unit) => unitIds[unit]?.Length ?? tokenized[unitSlot[unit]].Count;
    }
}

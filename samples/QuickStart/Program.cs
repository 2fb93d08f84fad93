// QuickStart: the README's example, runnable.
// dotnet run --project samples/QuickStart -- ../shared/testmodels/all-MiniLM-L6-v2   (or a model id: sentence-transformers/all-MiniLM-L6-v2)
using TransformerEmbeddings;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Pipelines;
using TransformerEmbeddings.SentenceTransformers;

var folder = args.Length > 0 ? args[0] : Path.Combine("..", "shared", "testmodels", "all-MiniLM-L6-v2");

// A sentence-transformers folder gives exactly what SentenceTransformer(folder).encode(texts) gives.
using var embedder = SentenceEmbedder.Load(folder);
using var vectors = embedder.Embed(["The quick brown fox.", "A fast auburn fox."]);
float[,] similarity = embedder.Similarity(vectors, vectors);            // the folder's similarity_fn_name (cosine)
Console.WriteLine($"{vectors.Count} vectors of {vectors.Dimension} dimensions; similarity {similarity[0, 1]:F3}");

// Top-k search: exact, chunked over the corpus, corpus ids and scores best first.
string[] documents = ["A man is playing a guitar.", "The stock market fell sharply today.", "A kitten sleeps on a warm rug.", "Someone plays music on stage."];
using var corpus = embedder.Embed(documents);
using var queries = embedder.Embed(["Who is making music?", "Where is the cat?"]);
var hits = embedder.SemanticSearch(queries, corpus, topK: 2);
foreach (var (query, top) in new[] { "Who is making music?", "Where is the cat?" }.Zip(hits))
    Console.WriteLine($"{query} -> {string.Join("; ", top.Select(h => $"{documents[h.CorpusId]} ({h.Score:F3})"))}");

// Per call, as sentence-transformers' encode(): a prompt, truncate_dim, normalize_embeddings.
using var small = embedder.Embed(["The quick brown fox."], new EmbeddingOptions { TruncateDimension = 128, Normalize = true });
Console.WriteLine($"truncated to {small.Dimension} dimensions");

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
Console.WriteLine($"fast mode ({fast.Model.ComputePath}): cosine to exact {quick.Zip(vectors.RowArray(0)).Sum(p => p.First * p.Second):F5}");

// QuickStart: the README's example, runnable offline.
// dotnet run --project samples/QuickStart -- ../shared/testmodels/all-MiniLM-L6-v2   (or a model id: sentence-transformers/all-MiniLM-L6-v2)
using TransformerEmbeddings;
using TransformerEmbeddings.Inspection;

var folder = args.Length > 0 ? args[0] : Path.Combine("..", "shared", "testmodels", "all-MiniLM-L6-v2");

// A sentence-transformers folder gives exactly what SentenceTransformer(folder).encode(texts) gives.
using var embedder = SentenceEmbedder.Load(folder);
var vectors = embedder.Embed(["The quick brown fox.", "A fast auburn fox."]);   // Embeddings: managed, nothing to dispose
float[,] similarity = embedder.Similarity(vectors, vectors);                  // the folder's similarity_fn_name (cosine)
Console.WriteLine($"{vectors.Count} vectors of {vectors.Dimension} dimensions; similarity {similarity[0, 1]:F3}");

// Top-k search: exact, chunked over the corpus, corpus ids and scores best first.
string[] documents = ["A man is playing a guitar.", "The stock market fell sharply today.", "A kitten sleeps on a warm rug.", "Someone plays music on stage."];
string[] questions = ["Who is making music?", "Where is the cat?"];
var corpus = embedder.Embed(documents);
var queries = embedder.Embed(questions);
SearchHit[][] hits = embedder.SemanticSearch(queries, corpus, topK: 2);
foreach (var (question, top) in questions.Zip(hits))
    Console.WriteLine($"{question} -> {string.Join("; ", top.Select(h => $"{documents[h.CorpusId]} ({h.Score:F3})"))}");

// Per call, as sentence-transformers' encode(): a prompt, truncate_dim, normalize_embeddings.
var small = embedder.Embed(["The quick brown fox."], new EmbeddingOptions { TruncateDimension = 128, Normalize = true });
Console.WriteLine($"truncated to {small.Dimension} dimensions");

// Any BERT/RoBERTa folder: pooling reads like a sentence.
using var model = TransformerModel.Load(folder);
using var output = model.Encode(["The quick brown fox jumps over the lazy dog."]);
var sentence = output.Tokens().Mean().Normalize();     // one vector per text: the last hidden state's mean
var cls = output.Tokens().Cls();                       // the first token
var words = output.Words().Mean();                     // one vector per word
Console.WriteLine($"sentence {sentence.Dimension}d, cls {cls.Dimension}d, {words[0].Count} words");

// Every internal, exactly as HF computes it, only when asked for: hidden states count 0..L, layers 0..L-1.
using var inside = model.Encode(["The bank will not lend money near the river bank."],
    new CaptureOptions { Kinds = ActivationKind.HiddenStates | ActivationKind.Attentions });
var last4 = inside.HiddenStates(^4..).Mean().Tokens().Mean();                    // the last four hidden states averaged
float[,] pattern = inside.AttentionPattern(layer: -1, head: 0, sequence: 0);     // a managed copy over the real tokens
var tokens = inside.Tokenization![0];
Console.WriteLine($"last4 {last4.Dimension}d; head 0 of the last layer, attention from the first token:");
for (var i = 0; i < tokens.Count; i++) Console.WriteLine($"  {tokens.Tokens[i],-10} {pattern[0, i]:F3}");

// Opt-in speed: the fast mode picks the quickest path this CPU has within cosine 0.999 of the exact vectors.
using var fast = SentenceEmbedder.Load(folder, new ModelOptions { Precision = Precision.Fast });
float[] quick = fast.Embed("The quick brown fox.");
Console.WriteLine($"fast mode ({fast.Model.ComputePath}): cosine to exact {quick.Zip(vectors.RowArray(0)).Sum(p => p.First * p.Second):F5}");

// The four seed explorations of docs/analysis.md, on all-MiniLM-L6-v2 (the folder in ../shared runs offline):
//   dotnet run -c Release --project samples/Analysis [-- MODEL_FOLDER]
using System.Globalization;
using TransformerEmbeddings;
using TransformerEmbeddings.Analysis;
using TransformerEmbeddings.Inspection;
using TransformerEmbeddings.Pooling;
using TransformerEmbeddings.SentenceTransformers;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var folder = args.Length > 0 ? args[0] : Path.Combine("..", "shared", "testmodels", "all-MiniLM-L6-v2");
using var model = TransformerModel.Load(folder);

// 1. Per-token vectors across layers: the two "bank"s of one sentence, hidden state by hidden state.
const string text = "The bank will not lend money near the river bank.";
using (var output = model.Encode([text], new CaptureOptions { Kinds = ActivationKind.HiddenStates }))
{
    var tokens = output.Tokenization![0].Tokens;
    var banks = Enumerable.Range(0, tokens.Count).Where(i => tokens[i] == "bank").ToArray();    // positions 2 and 10
    Console.WriteLine($"1. cosine of '{tokens[banks[0]]}'@{banks[0]} and '{tokens[banks[1]]}'@{banks[1]} per hidden state");
    for (var h = 0; h <= model.Config.NumHiddenLayers; h++)
        Console.WriteLine($"   hidden state {h}: {Cosine(output.TokenVector(0, banks[0], h), output.TokenVector(0, banks[1], h)):F3}");
}

// 2. Word vectors from sub-words: the mean of a word's pieces, compared across sentences.
string[] sentences = ["It was unbelievably cold.", "It was incredibly cold.", "It was slightly cold."];
using (var output = model.Encode(sentences))
{
    var words = output.Words().Mean();
    var vectors = sentences.Select((s, i) => words[i].Find(s, s.Split(' ')[2])[0]).ToArray();
    Console.WriteLine("2. word vectors (mean of sub-word tokens, last hidden state)");
    foreach (var (w, i) in vectors.Select((w, i) => (w, i)))
        Console.WriteLine($"   '{w.TextIn(sentences[i])}' = {string.Join(" + ", w.TokenIndices.Select(t => output.Tokenization![i].Tokens[t]))}");
    Console.WriteLine($"   cosine(unbelievably, incredibly) = {Cosine(vectors[0].Vector, vectors[1].Vector):F3}; cosine(unbelievably, slightly) = {Cosine(vectors[0].Vector, vectors[2].Vector):F3}");
}

// 3. Value space: which vocabulary tokens the first "bank"'s encoding is nearest to, head 1 of layer 0.
using (var output = model.Encode([text], new CaptureOptions { Kinds = ActivationKind.Contexts, Layers = [0] }))
{
    var nearest = new ValueSpace(model, 0).Nearest(output, sequence: 0, position: 2, new NearestOptions { K = 5, Heads = [1] });
    var cosine = nearest.Heads[0].Cosine!;
    Console.WriteLine($"3. layer 0, head 1, 'bank'@2: {string.Join(", ", cosine.Tokens.Select(t => $"{t.Token} {t.Distance:F3}"))}; 'bank' itself ranks {cosine.SelfRank}");
}

// 4. PCA of sentence embeddings: two topics fall apart along the first component.
string[] texts =
[
    "A man is playing a guitar.", "Someone plays the violin on stage.", "A woman sings a song.",
    "The stock market fell sharply.", "Shares dropped after the report.", "Investors sold their bonds.",
];
using (var embedder = SentenceEmbedder.Create(model, new SentenceEmbedderOptions { Normalize = true })) // the folder's pipeline: mean, Normalize
{
    var embeddings = embedder.Embed(texts);
    var pca = Pca.Fit(embeddings.ToArray(), components: 2);
    Console.WriteLine($"4. PCA: PC1 {pca.ExplainedVarianceRatio[0]:P1}, PC2 {pca.ExplainedVarianceRatio[1]:P1} of the variance");
    for (var i = 0; i < texts.Length; i++)
        Console.WriteLine($"   ({pca.Projections[i, 0],6:F3}, {pca.Projections[i, 1],6:F3})  {texts[i]}");
}

static double Cosine(float[] a, float[] b)
{
    double dot = 0, aa = 0, bb = 0;
    for (var i = 0; i < a.Length; i++)
    {
        dot += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return dot / Math.Sqrt(aa * bb);
}

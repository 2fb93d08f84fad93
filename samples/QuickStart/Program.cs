// QuickStart: encode two sentences, look inside the model, compare with the golden numbers' names.
// dotnet run --project samples/QuickStart -- ../shared/testmodels/all-MiniLM-L6-v2
using TransformerEmbeddings;
using TransformerEmbeddings.Inspection;

var folder = args.Length > 0 ? args[0] : Path.Combine("..", "shared", "testmodels", "all-MiniLM-L6-v2");
using var model = TransformerModel.Load(folder);
Console.WriteLine($"Loaded {model.Config.ModelType} ({model.Config.NumHiddenLayers} layers, hidden {model.HiddenSize}) in {model.LoadTime.TotalMilliseconds:F0} ms");

string[] texts = ["The bank will not lend money near the river bank.", "Transformers are powerful."];
using var output = model.Encode(texts, new CaptureOptions { Kinds = ActivationKind.Attentions, Layers = [-1] });

var tokens = output.Tokenization![0];
var attention = output.Attentions(-1);                       // (B, heads, S, S)
var fromCls = EncoderOutput.ToArray(attention[0, 0, 0]);     // head 0, row of the first token
Console.WriteLine("Head 0 of the last layer, attention from the first token:");
for (var i = 0; i < tokens.Count; i++)
    Console.WriteLine($"  {tokens.Tokens[i],-12} {fromCls[i]:F3}");

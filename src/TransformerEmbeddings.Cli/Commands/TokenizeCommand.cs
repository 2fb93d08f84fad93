using System.CommandLine;
using System.Text.Json;
using TransformerEmbeddings.Tokenization;

namespace TransformerEmbeddings.Cli.Commands;

/// <summary><c>te tokenize --model DIR --input IN.json --output OUT.json [--max-length N]</c>.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var model = ModelSource.ModelOption("A HuggingFace model (its tokenizer files)");
        var revision = ModelSource.RevisionOption();
        var input = new Option<string>("--input") { Description = "{\"sentences\": [...], \"pairs\": [[a, b], ...]}", Required = true };
        var output = new Option<string>("--output") { Description = "Where to write the tokenization (JSON).", Required = true };
        var maxLength = new Option<int?>("--max-length") { Description = "Truncate to this many tokens (default: the model's limit)." };
        var command = new Command("tokenize", "Tokenize texts exactly as HuggingFace tokenizers does: ids, tokens, offsets, word ids.")
        {
            model, input, output, maxLength, revision,
        };
        command.SetAction(parse => CommandRunner.Run(needsRuntime: false, body: () =>
        {
            var tokenizer = TransformerTokenizer.Load(ModelSource.Resolve(parse, model, revision));
            var file = InputFile.Read(parse.GetValue(input)!);
            var limit = parse.GetValue(maxLength);
            var sentences = file.Sentences is null ? null : tokenizer.EncodeBatch(file.Sentences, limit);
            var pairs = file.Pairs is null ? null : tokenizer.EncodeBatch(file.Pairs, limit);
            AtomicFile.Write(parse.GetValue(output)!, stream =>
            {
                using var w = new Utf8JsonWriter(stream);
                w.WriteStartObject();
                if (sentences is not null) WriteAll(w, "sentences", sentences);
                if (pairs is not null) WriteAll(w, "pairs", pairs);
                w.WriteEndObject();
            });
            return 0;
        }));
        return command;
    }

    private static void WriteAll(Utf8JsonWriter w, string name, IReadOnlyList<TokenizedText> items)
    {
        w.WriteStartArray(name);
        foreach (var t in items)
        {
            w.WriteStartObject();
            w.WriteStartArray("ids");
            foreach (var id in t.Ids) w.WriteNumberValue(id);
            w.WriteEndArray();
            w.WriteStartArray("tokens");
            foreach (var s in t.Tokens) w.WriteStringValue(s);
            w.WriteEndArray();
            w.WriteStartArray("offsets");
            foreach (var o in t.Offsets)
            {
                w.WriteStartArray();
                w.WriteNumberValue(o.Start);
                w.WriteNumberValue(o.End);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteStartArray("word_ids");
            foreach (var id in t.WordIds)
            {
                if (id is { } v) w.WriteNumberValue(v);
                else w.WriteNullValue();
            }
            w.WriteEndArray();
            w.WriteStartArray("type_ids");
            foreach (var id in t.TypeIds) w.WriteNumberValue(id);
            w.WriteEndArray();
            w.WriteStartArray("special_tokens_mask");
            foreach (var id in t.SpecialTokensMask) w.WriteNumberValue(id);
            w.WriteEndArray();
            w.WriteBoolean("truncated", t.Truncated);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}

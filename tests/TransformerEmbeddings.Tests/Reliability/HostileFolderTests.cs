using System.Buffers.Binary;
using System.Text.Json.Nodes;
using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Tokenization;
using TransformerEmbeddings.Weights;
using Xunit;

namespace TransformerEmbeddings.Tests.Reliability;

/// <summary>
/// The corpus of hostile model folders (issue 26): every file kind of a HuggingFace or sentence-transformers folder,
/// missing, empty, truncated, not JSON, of the wrong types, with absurd numbers, ids out of range, duplicates, mismatched
/// with the weights, escaping the folder or looping. Each case loads the damaged folder through the library
/// (<c>SentenceEmbedder.Load</c>, which reads every file) and through <c>te embed</c>: the library throws the documented
/// type, whose message names the file and the problem; te prints that as one line and exits 2.
/// </summary>
public sealed class HostileFolderTests(Xunit.Abstractions.ITestOutputHelper log)
{
    public enum Base
    {
        /// <summary>bert-tiny-uncased with modules.json, Pooling, Dense and Normalize (tokenizer.json, WordPiece).</summary>
        SentenceTransformers,

        /// <summary>bert-tiny-cased-sharded: vocab.txt only, two BF16 shards and their index.</summary>
        Sharded,

        /// <summary>roberta-tiny without tokenizer.json: vocab.json and merges.txt.</summary>
        VocabJsonMerges,

        /// <summary>roberta-tiny as it is: a byte-level BPE tokenizer.json.</summary>
        ByteLevelBpe,

        /// <summary>The XLM-R family fixture: a Unigram tokenizer.json.</summary>
        Unigram,
    }

    public sealed record Case(string Name, Base Base, Action<ModelFolderCopy> Damage, Type Exception, string File, string Problem, bool CopyWeights = false)
    {
        public override string ToString() => Name;
    }

    private static readonly string Bert = "bert-tiny-uncased";

    private static JsonNode Model(JsonNode tokenizer) => tokenizer["model"]!;

    private static byte[] F32(float value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(b, value);
        return b;
    }

    /// <summary>Sets a JSON value by a path of property names.</summary>
    private static Action<ModelFolderCopy> Set(string file, string path, JsonNode? value) => f => f.Json(file, root =>
    {
        var parts = path.Split('.');
        var node = root;
        foreach (var p in parts[..^1]) node = node[p]!;
        node[parts[^1]] = value?.DeepClone();
    });

    private static Action<ModelFolderCopy> Remove(string file, string path) => f => f.Json(file, root =>
    {
        var parts = path.Split('.');
        var node = root;
        foreach (var p in parts[..^1]) node = node[p]!;
        node.AsObject().Remove(parts[^1]);
    });

    private static Action<ModelFolderCopy> Text(string file, string text) => f => f.Write(file, text);

    private static Action<ModelFolderCopy> Truncate(string file) => f => f.Write(file, f.Read(file)[..(f.Read(file).Length / 2)]);

    private static Action<ModelFolderCopy> Delete(string file) => f => f.Delete(file);

    private static Action<ModelFolderCopy> Loop(string file) => f => f.Link(file, System.IO.Path.GetFileName(file));

    private static Action<ModelFolderCopy> Dangling(string file) => f => f.Link(file, "gone-" + System.IO.Path.GetFileName(file));

    private static Action<ModelFolderCopy> Huge(string file, long bytes) => f =>
    {
        f.Delete(file);
        using var s = new FileStream(f.File(file), FileMode.CreateNew);
        s.SetLength(bytes); // sparse: no disk is used, and the loader must not read it to find out it is too big
    };

    private static Action<ModelFolderCopy> Folder(string file) => f =>
    {
        f.Delete(file);
        Directory.CreateDirectory(f.File(file));
    };

    private static IEnumerable<Case> ConfigJson(Base b)
    {
        const string c = "config.json";
        var type = typeof(ModelConfigurationException);
        yield return new($"{b} config.json missing", b, Delete(c), type, c, "does not exist");
        yield return new($"{b} config.json empty", b, Text(c, "  \n"), type, c, "empty");
        yield return new($"{b} config.json truncated", b, Truncate(c), type, c, "not valid JSON");
        yield return new($"{b} config.json not JSON", b, Text(c, "model_type = bert"), type, c, "not valid JSON");
        yield return new($"{b} config.json an array", b, Text(c, "[1, 2]"), type, c, "expected a JSON object");
        yield return new($"{b} config.json nested 100k deep", b, Text(c, new string('[', 100_000)), type, c, "not valid JSON");
        yield return new($"{b} config.json a folder", b, Folder(c), type, c, "a folder is where a file should be");
        yield return new($"{b} config.json a link loop", b, Loop(c), type, c, "symbolic link that cannot be followed");
        yield return new($"{b} config.json a dangling link", b, Dangling(c), type, c, "which is not a file");
        yield return new($"{b} config.json of 64 MB", b, Huge(c, 64 << 20), type, c, "more than the");
    }

    public static IEnumerable<Case> Cases()
    {
        var config = typeof(ModelConfigurationException);
        var tokenizer = typeof(TokenizerException);
        var weights = typeof(WeightLoadingException);
        var safetensors = typeof(SafeTensorsException);
        const Base st = Base.SentenceTransformers;

        // ---- config.json: the file itself, then its values.
        foreach (var c in ConfigJson(st)) yield return c;
        const string cj = "config.json";
        yield return new("hidden_size a string", st, Set(cj, "hidden_size", "64"), config, cj, "expected an integer");
        yield return new("hidden_size 0", st, Set(cj, "hidden_size", 0), config, cj, "must be positive");
        yield return new("hidden_size 2^31", st, Set(cj, "hidden_size", 2147483648L), config, cj, "out of range");
        yield return new("hidden_size 1.5", st, Set(cj, "hidden_size", 1.5), config, cj, "expected an integer");
        // Absurd but representable: refused by the weights' shapes, before any tensor is made.
        yield return new("hidden_size 2^30, one head", st, f => f.Json(cj, n => { n["hidden_size"] = 1 << 30; n["num_attention_heads"] = 1; }), weights, "model.safetensors", "shape mismatch");
        yield return new("intermediate_size 2^31-1", st, Set(cj, "intermediate_size", int.MaxValue), weights, "model.safetensors", "shape mismatch");
        yield return new("heads not dividing hidden_size", st, Set(cj, "num_attention_heads", 3), config, cj, "not a multiple of the number of attention heads");
        yield return new("num_hidden_layers 2^31-1", st, Set(cj, "num_hidden_layers", int.MaxValue), weights, "model.safetensors", "asks for 2147483647 layers (num_hidden_layers) but the checkpoint holds 2");
        yield return new("num_hidden_layers negative", st, Set(cj, "num_hidden_layers", -2), config, cj, "must be positive");
        yield return new("max_position_embeddings 0", st, Set(cj, "max_position_embeddings", 0), config, cj, "must be positive");
        yield return new("max_position_embeddings beyond the weights", st, Set(cj, "max_position_embeddings", 100_000), weights, "model.safetensors", "shape mismatch");
        yield return new("layer_norm_eps negative", st, Set(cj, "layer_norm_eps", -1e-12), config, cj, "expected a positive number");
        yield return new("layer_norm_eps infinite", st, f => f.Write(cj, f.Read(cj).Replace("\"layer_norm_eps\": 1e-12", "\"layer_norm_eps\": 1e999")), config, cj, "expected a positive number");
        yield return new("model_type missing", st, Remove(cj, "model_type"), config, cj, "required field is missing");
        yield return new("model_type unsupported", st, Set(cj, "model_type", "gpt2"), config, cj, "unsupported model type 'gpt2'");
        yield return new("hidden_act unsupported", st, Set(cj, "hidden_act", "swiglu"), config, cj, "unsupported activation 'swiglu'");
        yield return new("pad_token_id outside the vocabulary", st, Set(cj, "pad_token_id", 40_000), config, cj, "outside the vocabulary");
        yield return new("type_vocab_size 0", st, Set(cj, "type_vocab_size", 0), config, cj, "must be positive");
        yield return new("position_embedding_type relative", st, Set(cj, "position_embedding_type", "relative_key"), config, cj, "only 'absolute'");
        // vocab_size disagreeing with the tokenizer or the weights.
        yield return new("vocab_size below the tokenizer's ids", st, Set(cj, "vocab_size", 30_000), tokenizer, "tokenizer.json", "vocab_size in config.json");
        yield return new("vocab_size above the weights' rows", st, Set(cj, "vocab_size", 40_000), weights, "model.safetensors", "word_embeddings.weight");

        // ---- tokenizer.json (WordPiece)
        const string tj = "tokenizer.json";
        yield return new("tokenizer.json empty", st, Text(tj, ""), tokenizer, tj, "the file is empty");
        yield return new("tokenizer.json truncated", st, Truncate(tj), tokenizer, tj, "invalid JSON");
        yield return new("tokenizer.json not JSON", st, Text(tj, "<html>404</html>"), tokenizer, tj, "invalid JSON");
        yield return new("tokenizer.json an array", st, Text(tj, "[]"), tokenizer, tj, "expected a JSON object");
        yield return new("tokenizer.json nested 100k deep", st, Text(tj, new string('[', 100_000)), tokenizer, tj, "invalid JSON");
        yield return new("tokenizer.json a link loop", st, Loop(tj), tokenizer, tj, "symbolic link that cannot be followed");
        yield return new("tokenizer.json a folder", st, Folder(tj), tokenizer, tj, "a folder is where a file should be");
        yield return new("tokenizer.json of 600 MB", st, Huge(tj, 600L << 20), tokenizer, tj, "more than the");
        yield return new("tokenizer.json without a model", st, Remove(tj, "model"), tokenizer, tj, "the 'model' block is missing");
        yield return new("tokenizer.json model type unsupported", st, Set(tj, "model.type", "WordLevel"), tokenizer, tj, "model type 'WordLevel' is not supported");
        yield return new("vocab not an object", st, Set(tj, "model.vocab", new JsonArray()), tokenizer, tj, "not an object");
        yield return new("vocab id a string", st, f => f.Json(tj, n => Model(n)["vocab"]!["the"] = "1996"), tokenizer, tj, "the token 'the' has id \"1996\"");
        yield return new("vocab id negative", st, f => f.Json(tj, n => Model(n)["vocab"]!["the"] = -1), tokenizer, tj, "the token 'the' has id -1");
        yield return new("vocab id beyond 32 bits", st, f => f.Json(tj, n => Model(n)["vocab"]!["the"] = 1L << 32), tokenizer, tj, "the token 'the' has id 4294967296");
        yield return new("vocab ids absurdly sparse", st, f => f.Json(tj, n => Model(n)["vocab"] = new JsonObject { ["[UNK]"] = 0, ["a"] = 2_000_000_000 }), tokenizer, tj, "ids this sparse");
        yield return new("vocab a token twice", st, f => f.Write(tj, f.Read(tj).Replace("\"[UNK]\": 100,", "\"[UNK]\": 100, \"[UNK]\": 5,")), tokenizer, tj, "appears twice");
        yield return new("unk_token missing from the vocabulary", st, Set(tj, "model.unk_token", "<nope>"), tokenizer, tj, "unk_token '<nope>' is not in the vocabulary");
        yield return new("max_input_chars_per_word negative", st, Set(tj, "model.max_input_chars_per_word", -1), tokenizer, tj, "max_input_chars_per_word -1");
        yield return new("added token beyond vocab_size", st, f => f.Json(tj, n => n["added_tokens"]!.AsArray().Add(new JsonObject { ["id"] = 50_000, ["content"] = "<extra>", ["special"] = true })), tokenizer, tj, "id 50000 to the added token '<extra>'");
        yield return new("added token with a negative id", st, f => f.Json(tj, n => n["added_tokens"]![0]!["id"] = -3), tokenizer, tj, "has id -3");
        yield return new("added token without an id", st, f => f.Json(tj, n => n["added_tokens"]![0]!.AsObject().Remove("id")), tokenizer, tj, "has no 'id'");
        yield return new("added token twice", st, f => f.Json(tj, n => n["added_tokens"]!.AsArray().Add(n["added_tokens"]![0]!.DeepClone())), tokenizer, tj, "clash");
        yield return new("two added tokens with one id", st, f => f.Json(tj, n => n["added_tokens"]![1]!["id"] = n["added_tokens"]![0]!["id"]!.GetValue<int>()), tokenizer, tj, "clash");
        yield return new("post-processor id beyond vocab_size", st, f => f.Json(tj, n => n["post_processor"]!["special_tokens"]!["[CLS]"]!["ids"]![0] = 99_999), tokenizer, tj, "id 99999 to the special token '[CLS]'");
        yield return new("post-processor ids and tokens differ in count", st, f => f.Json(tj, n => n["post_processor"]!["special_tokens"]!["[CLS]"]!["ids"]!.AsArray().Add(5)), tokenizer, tj, "has 1 tokens but 2 ids");
        yield return new("post-processor type id beyond type_vocab_size", st, f => f.Json(tj, n => n["post_processor"]!["pair"]![3]!["Sequence"]!["type_id"] = 7), tokenizer, tj, "token type id 7");
        yield return new("post-processor type id negative", st, f => f.Json(tj, n => n["post_processor"]!["single"]![1]!["Sequence"]!["type_id"] = -1), tokenizer, tj, "type_id -1");
        yield return new("post-processor unsupported", st, Set(tj, "post_processor", new JsonObject { ["type"] = "ByteLevel" }), tokenizer, tj, "post_processor type 'ByteLevel' is not supported");
        yield return new("normalizer unsupported", st, Set(tj, "normalizer", new JsonObject { ["type"] = "Prepend", ["prepend"] = "x" }), tokenizer, tj, "normalizer type 'Prepend' is not supported");
        yield return new("pre-tokenizer Sequence holding a number", st, Set(tj, "pre_tokenizer", new JsonObject { ["type"] = "Sequence", ["pretokenizers"] = new JsonArray(1) }), tokenizer, tj, "malformed");
        yield return new("truncation max_length negative", st, Set(tj, "truncation", new JsonObject { ["max_length"] = -5, ["strategy"] = "LongestFirst", ["direction"] = "Right", ["stride"] = 0 }), tokenizer, tj, "max_length -5");
        yield return new("Replace regex with a backreference", st, Set(tj, "normalizer", new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["Regex"] = "(a)\\1" }, ["content"] = "b" }), tokenizer, tj, "cannot be matched in linear time");
        yield return new("Replace regex invalid", st, Set(tj, "normalizer", new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["Regex"] = "(" }, ["content"] = "b" }), tokenizer, tj, "Replace regex '(' is not supported");

        // ---- tokenizer.json (byte-level BPE, Unigram)
        yield return new("BPE merge of unknown tokens", Base.ByteLevelBpe, f => f.Json(tj, n => Model(n)["merges"]!.AsArray().Insert(0, "zzqx qqzx")), tokenizer, tj, "missing from the vocabulary");
        yield return new("BPE merge of three tokens", Base.ByteLevelBpe, f => f.Json(tj, n => Model(n)["merges"]!.AsArray().Insert(0, "a b c")), tokenizer, tj, "is not two tokens");
        yield return new("BPE merge of numbers", Base.ByteLevelBpe, f => f.Json(tj, n => Model(n)["merges"]!.AsArray().Insert(0, new JsonArray(1, 2))), tokenizer, tj, "neither");
        yield return new("BPE without merges", Base.ByteLevelBpe, Remove(tj, "model.merges"), tokenizer, tj, "'merges' is missing");
        yield return new("RobertaProcessing sep not a pair", Base.ByteLevelBpe, Set(tj, "post_processor.sep", new JsonArray("</s>")), tokenizer, tj, "not a [\"token\", id] pair");
        yield return new("RobertaProcessing cls id beyond vocab_size", Base.ByteLevelBpe, Set(tj, "post_processor.cls", new JsonArray("<s>", 123_456)), tokenizer, tj, "id 123456 to the special token '<s>'");
        yield return new("Unigram unk_id outside the vocabulary", Base.Unigram, Set(tj, "model.unk_id", 1_000_000), tokenizer, tj, "unk_id 1000000 is outside the vocabulary");
        yield return new("Unigram vocab entry not [piece, score]", Base.Unigram, f => f.Json(tj, n => Model(n)["vocab"]![5] = new JsonArray("x")), tokenizer, tj, "is not [piece, score]");
        yield return new("Unigram precompiled_charsmap not base64", Base.Unigram, f => f.Json(tj, n => FindNormalizer(n, "Precompiled")["precompiled_charsmap"] = "***"), tokenizer, tj, "not base64");
        yield return new("Unigram precompiled_charsmap truncated", Base.Unigram, f => f.Json(tj, n => FindNormalizer(n, "Precompiled")["precompiled_charsmap"] = "AAEAAA=="), tokenizer, tj, "does not fit");
        yield return new("Unigram vocabulary bigger than vocab_size", Base.Unigram, f => f.Json(tj, n => { for (var i = 0; i < 2000; i++) Model(n)["vocab"]!.AsArray().Add(new JsonArray($"extra{i}", -20.0)); }), tokenizer, tj, "vocab_size in config.json");

        // ---- tokenizer_config.json, special_tokens_map.json
        yield return new("tokenizer_config.json not JSON", st, Text("tokenizer_config.json", "{\"cls_token\": "), tokenizer, "tokenizer_config.json", "invalid JSON");
        yield return new("model_max_length 1", Base.Sharded, Set("tokenizer_config.json", "model_max_length", 1), config, "tokenizer_config.json", "token limit is 1");
        yield return new("tokenizer_config.json a link loop", st, Loop("tokenizer_config.json"), tokenizer, "tokenizer_config.json", "symbolic link that cannot be followed");
        yield return new("special_tokens_map.json not JSON", st, Text("special_tokens_map.json", "\u0000\u0001"), tokenizer, "special_tokens_map.json", "invalid JSON");
        yield return new("special_tokens_map.json of 64 MB", st, Huge("special_tokens_map.json", 64 << 20), tokenizer, "special_tokens_map.json", "more than the");
        yield return new("added_tokens_decoder key not an id", Base.Sharded, Set("tokenizer_config.json", "added_tokens_decoder", new JsonObject { ["abc"] = new JsonObject { ["content"] = "[X]" } }), tokenizer, "tokenizer_config.json", "is not a token id");
        yield return new("added_tokens_decoder id beyond vocab_size", Base.Sharded, Set("tokenizer_config.json", "added_tokens_decoder", new JsonObject { ["40000"] = new JsonObject { ["content"] = "[X]", ["special"] = true } }), tokenizer, "vocab.txt", "id 40000 to the added token '[X]'");

        // ---- vocab.txt
        yield return new("vocab.txt empty", Base.Sharded, Text("vocab.txt", ""), tokenizer, "vocab.txt", "unk_token '[UNK]' is not in the vocabulary");
        yield return new("vocab.txt without [CLS]", Base.Sharded, f => f.Write("vocab.txt", f.Read("vocab.txt").Replace("[CLS]\n", "[CLX]\n")), tokenizer, "vocab.txt", "cls_token '[CLS]' is not in the vocabulary");
        yield return new("vocab.txt longer than vocab_size", Base.Sharded, f => f.Write("vocab.txt", f.Read("vocab.txt") + string.Join("\n", Enumerable.Range(0, 100).Select(i => $"extra{i}")) + "\n"), tokenizer, "vocab.txt", "vocab_size in config.json");
        yield return new("vocab.txt a folder", Base.Sharded, Folder("vocab.txt"), tokenizer, "vocab.txt", "a folder is where a file should be");
        yield return new("vocab.txt a dangling link", Base.Sharded, Dangling("vocab.txt"), tokenizer, "vocab.txt", "which is not a file");

        // ---- vocab.json + merges.txt
        yield return new("vocab.json not JSON", Base.VocabJsonMerges, Text("vocab.json", "{\"a\": 1"), tokenizer, "vocab.json", "invalid JSON");
        yield return new("vocab.json an array", Base.VocabJsonMerges, Text("vocab.json", "[\"a\"]"), tokenizer, "vocab.json", "expected a JSON object");
        yield return new("vocab.json id a float", Base.VocabJsonMerges, f => f.Json("vocab.json", n => n["the"] = 1.5), tokenizer, "vocab.json", "the token 'the' has id 1.5");
        yield return new("merges.txt line of three tokens", Base.VocabJsonMerges, f => f.Write("merges.txt", "#version: 0.2\na b c\n"), tokenizer, "merges.txt", "line 2 is not two tokens");
        yield return new("merges.txt merge of unknown tokens", Base.VocabJsonMerges, f => f.Write("merges.txt", "#version: 0.2\nzzqx qqzx\n"), tokenizer, "merges.txt", "missing from the vocabulary");
        yield return new("merges.txt a link loop", Base.VocabJsonMerges, Loop("merges.txt"), tokenizer, "merges.txt", "symbolic link that cannot be followed");
        yield return new("vocab.json without merges.txt", Base.VocabJsonMerges, Delete("merges.txt"), tokenizer, "", "holds no tokenizer");

        // ---- modules.json
        const string mj = "modules.json";
        yield return new("modules.json not JSON", st, Text(mj, "[{"), config, mj, "Not valid JSON");
        yield return new("modules.json empty", st, Text(mj, ""), config, mj, "empty");
        yield return new("modules.json an object", st, Text(mj, "{}"), config, mj, "Expected a JSON array");
        yield return new("modules.json a module that is a number", st, Text(mj, "[1]"), config, mj, "not an object");
        yield return new("modules.json module type unknown", st, f => f.Json(mj, n => n[2]!["type"] = "sentence_transformers.models.LSTM"), config, mj, "is not supported");
        yield return new("modules.json without Transformer first", st, f => f.Json(mj, n => n.AsArray().RemoveAt(0)), config, mj, "followed by");
        yield return new("modules.json path escaping with ..", st, f => f.Json(mj, n => n[1]!["path"] = "../../../../etc"), config, mj, "leads out of the model folder");
        yield return new("modules.json absolute path", st, f => f.Json(mj, n => n[2]!["path"] = "/etc"), config, mj, "is absolute");
        yield return new("modules.json Transformer path escaping", st, f => f.Json(mj, n => n[0]!["path"] = ".."), config, mj, "leads out of the model folder");
        yield return new("modules.json path with NUL", st, f => f.Json(mj, n => n[1]!["path"] = "1_Pooling\u0000x"), config, mj, "NUL");
        yield return new("modules.json a link loop", st, Loop(mj), config, mj, "symbolic link that cannot be followed");
        yield return new("Pooling folder a link loop", st, Loop("1_Pooling"), config, "1_Pooling/config.json", "symbolic link that cannot be followed");
        yield return new("Pooling folder missing", st, Delete("1_Pooling"), config, "1_Pooling/config.json", "missing");

        // ---- sentence_bert_config.json, config_sentence_transformers.json
        const string sb = "sentence_bert_config.json";
        yield return new("sentence_bert_config.json not JSON", st, Text(sb, "max_seq_length: 128"), config, sb, "Not valid JSON");
        yield return new("max_seq_length 0", st, Set(sb, "max_seq_length", 0), config, sb, "Must be at least 2");
        yield return new("max_seq_length 1", st, Set(sb, "max_seq_length", 1), config, sb, "Must be at least 2"); // found by LoaderPropertyTests
        yield return new("max_seq_length a string", st, Set(sb, "max_seq_length", "128"), config, sb, "Expected a 32-bit integer");
        yield return new("max_seq_length 2^40", st, Set(sb, "max_seq_length", 1L << 40), config, sb, "Expected a 32-bit integer");
        const string cst = "config_sentence_transformers.json";
        yield return new("prompt not a string", st, Set(cst, "prompts", new JsonObject { ["query"] = 5 }), config, cst, "Expected a string");
        yield return new("default_prompt_name unknown", st, Set(cst, "default_prompt_name", "passage"), config, cst, "is not one of the prompts");
        yield return new("truncate_dim 0", st, Set(cst, "truncate_dim", 0), config, cst, "Must be positive");
        yield return new("truncate_dim beyond the dimension", st, Set(cst, "truncate_dim", 4096), config, "", "exceeds the embedding dimension");
        yield return new("similarity_fn_name unknown", st, Set(cst, "similarity_fn_name", "jaccard"), config, cst, "not a known similarity");
        yield return new("config_sentence_transformers.json an array", st, Text(cst, "[]"), config, cst, "Expected a JSON object");

        // ---- 1_Pooling/config.json
        const string pc = "1_Pooling/config.json";
        yield return new("Pooling config not JSON", st, Text(pc, "mean"), config, pc, "Not valid JSON");
        yield return new("Pooling without a mode", st, Text(pc, "{\"word_embedding_dimension\": 64}"), config, pc, "No pooling mode is enabled");
        yield return new("Pooling mode unknown", st, Text(pc, "{\"pooling_mode\": \"median\"}"), config, pc, "Unknown pooling mode 'median'");
        yield return new("Pooling dimension not the hidden size", st, Set(pc, "word_embedding_dimension", 128), config, pc, "hidden size is 64");
        yield return new("Pooling dimension negative", st, Set(pc, "word_embedding_dimension", -64), config, pc, "Must be positive");
        yield return new("Pooling flag a string", st, Set(pc, "pooling_mode_mean_tokens", "yes"), config, pc, "Expected true or false");

        // ---- a Dense module
        const string dc = "2_Dense/config.json";
        yield return new("Dense config missing", st, Delete(dc), config, dc, "missing");
        yield return new("Dense in_features missing", st, Remove(dc, "in_features"), config, dc, "in_features");
        yield return new("Dense in_features 0", st, Set(dc, "in_features", 0), config, dc, "Must be positive");
        yield return new("Dense in_features not the pooled width", st, f => f.Json(dc, n => n["in_features"] = 32), weights, "2_Dense/model.safetensors", "shape mismatch");
        yield return new("Dense activation unsupported", st, Set(dc, "activation_function", "torch.nn.modules.activation.Softmax"), config, dc, "is not supported");
        yield return new("Dense weights missing", st, Delete("2_Dense/model.safetensors"), weights, "2_Dense", "no weights found");
        yield return new("Dense weights NaN", st, f => f.Poke("2_Dense/model.safetensors", "linear.weight", 17, F32(float.NaN)), weights, "2_Dense/model.safetensors", "element 17 (of 2048) is NaN");
        yield return new("Dense weights truncated", st, f => f.WriteBytes("2_Dense/model.safetensors", File.ReadAllBytes(f.File("2_Dense/model.safetensors"))[..200]), safetensors, "2_Dense/model.safetensors", "");

        // ---- the weights
        yield return new("model.safetensors missing", st, Delete("model.safetensors"), weights, "", "no weights found");
        yield return new("model.safetensors empty", st, f => f.WriteBytes("model.safetensors", []), safetensors, "model.safetensors", "");
        yield return new("model.safetensors truncated", st, f => f.WriteBytes("model.safetensors", File.ReadAllBytes(SharedData.Model(Bert) + "/model.safetensors")[..100_000]), safetensors, "model.safetensors", "");
        yield return new("model.safetensors a link loop", st, Loop("model.safetensors"), weights, "model.safetensors", "symbolic link that cannot be followed");
        yield return new("model.safetensors a dangling link", st, Dangling("model.safetensors"), weights, "model.safetensors", "which is not a file");
        yield return new("a NaN weight", st, f => f.Poke("model.safetensors", "encoder.layer.1.intermediate.dense.weight", 1234, F32(float.NaN)), weights, "model.safetensors", "'encoder.layer.1.intermediate.dense.weight': element 1234 (of 8192) is NaN", CopyWeights: true);
        yield return new("a +Inf weight", st, f => f.Poke("model.safetensors", "embeddings.word_embeddings.weight", 5, F32(float.PositiveInfinity)), weights, "model.safetensors", "element 5 (of 1953408) is +Inf", CopyWeights: true);
        yield return new("a -Inf LayerNorm weight", st, f => f.Poke("model.safetensors", "embeddings.LayerNorm.weight", 0, F32(float.NegativeInfinity)), weights, "model.safetensors", "element 0 (of 64) is -Inf", CopyWeights: true);
        yield return new("a BF16 NaN weight in a shard", Base.Sharded, f => f.Poke("model-00001-of-00002.safetensors", "bert.encoder.layer.0.attention.self.query.weight", 3, [0xC0, 0x7F]), weights, "model-00001-of-00002.safetensors", "element 3 (of 4096) is NaN", CopyWeights: true);

        // ---- the shard index
        const string ix = "model.safetensors.index.json";
        yield return new("index not JSON", Base.Sharded, Text(ix, "{\"weight_map\": "), weights, ix, "not valid JSON");
        yield return new("index without weight_map", Base.Sharded, Text(ix, "{\"metadata\": {}}"), weights, ix, "no 'weight_map' object");
        yield return new("index with an empty weight_map", Base.Sharded, Text(ix, "{\"weight_map\": {}}"), weights, ix, "names no shard");
        yield return new("index a shard name that is a number", Base.Sharded, f => f.Json(ix, n => n["weight_map"]!["bert.pooler.dense.weight"] = 3), weights, ix, "must be a string");
        yield return new("index pointing at a missing shard", Base.Sharded, Delete("model-00002-of-00002.safetensors"), weights, ix, "does not exist");
        yield return new("index pointing out of the folder", Base.Sharded, f => f.Json(ix, n => n["weight_map"]!["bert.embeddings.word_embeddings.weight"] = "../../model.safetensors"), weights, ix, "leads out of the model folder");
        yield return new("index placing a tensor in the wrong shard", Base.Sharded, f => f.Json(ix, n => Swap(n["weight_map"]!.AsObject())), weights, ix, "the index places it in");
        yield return new("shards disagreeing on dtype", Base.Sharded, ShardAsFloat32, weights, "model-00002-of-00002.safetensors", "come from different saves");
        yield return new("index a link loop", Base.Sharded, f => { f.Link(ix, ix); }, weights, ix, "symbolic link that cannot be followed");
    }

    private static JsonNode FindNormalizer(JsonNode tokenizer, string type)
    {
        var n = tokenizer["normalizer"]!;
        if ((string?)n["type"] == type) return n;
        return n["normalizers"]!.AsArray().First(x => (string?)x!["type"] == type)!;
    }

    /// <summary>Moves one tensor's entry to the other shard's file name.</summary>
    private static void Swap(JsonObject map)
    {
        var (name, shard) = map.First();
        var other = map.Select(kv => (string)kv.Value!).First(s => s != (string)shard!);
        map[name] = other;
    }

    /// <summary>Rewrites the second shard in F32 (the first stays BF16).</summary>
    private static void ShardAsFloat32(ModelFolderCopy f)
    {
        const string shard = "model-00002-of-00002.safetensors";
        var entries = new List<SafeTensorEntry>();
        using (var file = SafeTensorsFile.Open(f.File(shard)))
        {
            foreach (var t in file.Tensors)
            {
                if (t.DType != SafeTensorsDType.BF16)
                {
                    entries.Add(new SafeTensorEntry(t.Name, t.DType, t.Shape.ToArray(), file.GetBytes(t).ToArray()));
                    continue;
                }
                var values = file.ReadFloat32(t.Name);
                entries.Add(new SafeTensorEntry(t.Name, SafeTensorsDType.F32, t.Shape.ToArray(), System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray()));
            }
        }
        f.Delete(shard);
        SafeTensorsWriter.Write(f.File(shard), entries);
    }

    private static readonly Lazy<Dictionary<string, Case>> ByName = new(() => Cases().ToDictionary(c => c.Name));

    public static TheoryData<string> All() => new(ByName.Value.Keys);

    private static ModelFolderCopy Make(Case c) => c.Base switch
    {
        Base.SentenceTransformers => WithWeights(ModelFolderCopy.SentenceTransformers(), c.CopyWeights, SharedData.Model(Bert)),
        Base.Sharded => ModelFolderCopy.Of(SharedData.Model("bert-tiny-cased-sharded"), c.CopyWeights),
        Base.VocabJsonMerges => Without(ModelFolderCopy.Of(SharedData.Model("roberta-tiny")), "tokenizer.json"),
        Base.ByteLevelBpe => ModelFolderCopy.Of(SharedData.Model("roberta-tiny")),
        Base.Unigram => ModelFolderCopy.Of(FamilyFixtures.Folder("xlmr-tiny"), c.CopyWeights),
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };

    private static ModelFolderCopy WithWeights(ModelFolderCopy f, bool copy, string source)
    {
        if (!copy) return f;
        f.Delete("model.safetensors");
        File.Copy(Path.Combine(source, "model.safetensors"), f.File("model.safetensors"));
        return f;
    }

    private static ModelFolderCopy Without(ModelFolderCopy f, string file)
    {
        f.Delete(file);
        return f;
    }

    [Fact]
    public void A_token_listed_twice_in_vocab_txt_keeps_its_last_line_as_HF_reads_it()
    {
        // HF's WordPiece.from_file and BertTokenizer fill a map line by line: the later line wins, the earlier id is never given.
        using var folder = ModelFolderCopy.Of(SharedData.Model("bert-tiny-cased-sharded"));
        var lines = File.ReadAllLines(folder.File("vocab.txt"));
        var dog = Array.IndexOf(lines, "dog");
        Assert.True(dog > 0);
        lines[^1] = "dog"; // the last id now spells dog too
        File.WriteAllLines(folder.File("vocab.txt"), lines);
        var tokenizer = TransformerTokenizer.Load(folder.Path);
        Assert.Equal(lines.Length - 1, tokenizer.TokenToId("dog"));
        Assert.Contains(lines.Length - 1, tokenizer.Encode("my dog").Ids);
        using var model = TransformerModel.Load(folder.Path); // still fits the weights
        using var output = model.Encode(["my dog"]);
    }

    [Theory]
    [MemberData(nameof(All))]
    public void A_damaged_folder_fails_with_the_documented_exception_naming_the_file_and_the_problem(string name)
    {
        var c = ByName.Value[name];
        using var folder = Make(c);
        using (var control = SentenceEmbedder.Load(folder.Path)) Assert.True(control.Dimension > 0); // the base loads before the damage
        c.Damage(folder);
        SentenceEmbedder? loaded = null;
        var e = Record.Exception(() => loaded = SentenceEmbedder.Load(folder.Path));
        loaded?.Dispose();
        Assert.NotNull(e);
        log.WriteLine($"{e.GetType().Name}: {e.Message}");
        Assert.True(e.GetType() == c.Exception, $"{c.Name}: expected {c.Exception.Name}, got {e.GetType().Name}: {e.Message}");
        Assert.IsAssignableFrom<TransformerEmbeddingsException>(e);
        Assert.Contains(Path.Combine(folder.Path, c.File).TrimEnd('/'), e.Message);
        Assert.Contains(c.Problem, e.Message);
        Assert.DoesNotContain('\n', e.Message);

        // te: one line on stderr naming the file, exit 2 (the model cannot be loaded).
        File.WriteAllText(folder.File("texts.txt"), "one\ntwo\n");
        var (code, error) = TeRunner.Run("embed", "--model", folder.Path, "--input", folder.File("texts.txt"), "--output", folder.File("out.npy"), "--progress", "None");
        Assert.True(code == 2, $"{c.Name}: te exited {code}: {error}");
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("te: error: ", lines[0]);
        Assert.Contains(c.Problem, lines[0]);
        Assert.False(File.Exists(folder.File("out.npy")));
    }
}

using TransformerEmbeddings.Tokenization;
using TransformerEmbeddings.Weights;

namespace TransformerEmbeddings.Fuzz;

/// <summary>
/// The fuzz targets: bytes from anywhere as a safetensors file or a tokenizer.json. Refusing them with an exception of the
/// documented hierarchy (<see cref="TransformerEmbeddingsException"/>) is the expected outcome; any other exception, an
/// access violation, a native abort or a hang is a finding. What loads is used: every tensor's bytes are read, the
/// tokenizer encodes and decodes hostile texts whose offsets must index them. Shared by the AFL++ harness (fuzz/) and
/// the regression tests, which replay the committed corpus and every past finding.
/// </summary>
public static class Targets
{
    /// <summary>The targets by name.</summary>
    public static IReadOnlyDictionary<string, Func<byte[], string>> ByName { get; } = new Dictionary<string, Func<byte[], string>>
    {
        ["safetensors"] = SafeTensors,
        ["tokenizer"] = Tokenizer,
    };

    private static readonly string[] Texts =
    [
        "", "Hello, world! The quick brown fox.", "unaffable naïve café 日本語 👩‍👩‍👧‍👦", "\uD800 lone \uDFFF surrogates\0NUL",
        "e\u0301\u0301\u0301 \u202Ertl\u202C [MASK] <mask> <s> </s> [CLS] ▁ Ġ ##s <0x41>", new string('a', 600), "  \t\r\n  ",
    ];

    /// <summary>
    /// A scratch folder per thread, in memory where there is one: the bytes become a file the library opens (the property
    /// tests call the targets from several threads at once).
    /// </summary>
    private static readonly ThreadLocal<string> Scratch = new(() =>
    {
        var root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        var dir = Path.Combine(root, $"te-fuzz-{Environment.ProcessId}-{Environment.CurrentManagedThreadId}");
        Directory.CreateDirectory(dir);
        return dir;
    });

    private static string ScratchFolder() => Directory.CreateDirectory(Scratch.Value!).FullName;

    /// <summary>Removes this process's scratch folders.</summary>
    public static void CleanUp()
    {
        var root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        foreach (var dir in Directory.EnumerateDirectories(root, $"te-fuzz-{Environment.ProcessId}-*"))
            Directory.Delete(dir, recursive: true);
    }

    /// <summary>Opens the bytes as a safetensors file and reads every tensor.</summary>
    public static string SafeTensors(byte[] bytes)
    {
        var path = Path.Combine(ScratchFolder(), "model.safetensors");
        File.WriteAllBytes(path, bytes);
        try
        {
            using var file = SafeTensorsFile.Open(path);
            long total = 0;
            foreach (var tensor in file.Tensors)
            {
                var data = file.GetBytes(tensor);
                if (data.Length != tensor.ElementCount * DTypeSize(tensor.DType))
                    throw new InvalidOperationException($"{tensor.Name}: {data.Length} bytes for {tensor.ElementCount} elements of {tensor.DType}");
                total += data.Length;
                if (tensor.DType is SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 && tensor.ElementCount <= 1 << 20)
                    _ = file.ReadFloat32(tensor.Name);
            }
            return $"opened: {file.Tensors.Count} tensors, {total} bytes";
        }
        catch (TransformerEmbeddingsException e)
        {
            return $"refused: {e.GetType().Name}: {e.Message}";
        }
    }

    private static int DTypeSize(SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.F64 or SafeTensorsDType.I64 or SafeTensorsDType.U64 => 8,
        SafeTensorsDType.F32 or SafeTensorsDType.I32 or SafeTensorsDType.U32 => 4,
        SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.I16 or SafeTensorsDType.U16 => 2,
        _ => 1,
    };

    /// <summary>Loads the bytes as a folder's tokenizer.json, then encodes, truncates and decodes hostile texts.</summary>
    public static string Tokenizer(byte[] bytes)
    {
        var folder = Path.Combine(ScratchFolder(), "tokenizer");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "tokenizer.json"), bytes);
        TransformerTokenizer tokenizer;
        try
        {
            tokenizer = TransformerTokenizer.Load(folder);
        }
        catch (TransformerEmbeddingsException e)
        {
            return $"refused: {e.GetType().Name}: {e.Message}";
        }
        var tokens = 0;
        try
        {
            foreach (var text in Texts)
            {
                tokens += Check(tokenizer.Encode(text, int.MaxValue), text, null);
                tokens += Check(tokenizer.Encode(text, Texts[1], int.MaxValue), text, Texts[1]);
                var limit = tokenizer.Encode("", "").Count + 3;
                tokens += Check(tokenizer.Encode(text, Texts[2], limit), text, Texts[2]);
                _ = tokenizer.Decode(tokenizer.Encode(text, int.MaxValue).Ids, skipSpecialTokens: false);
            }
        }
        catch (TokenizerException e) when (e.Message.Contains("has no unk_id", StringComparison.Ordinal))
        {
            // The one text-dependent failure, as in HF (UnigramError::MissingUnkId): a Unigram model without unk_id meets
            // a character no piece covers (fuzz/findings/tokenizer/crashes-*: the first AFL++ run's six findings).
            return $"refused while encoding: {e.Message}";
        }
        foreach (var (token, id) in tokenizer.GetVocabulary().Take(64))
            if (tokenizer.IdToToken(id) is null) throw new InvalidOperationException($"the vocabulary gives '{token}' id {id}, which maps to no token");
        return $"loaded: {tokenizer.Kind}, {tokenizer.VocabSize} tokens, {tokens} encoded";
    }

    private static int Check(TokenizedText e, string text, string? pair)
    {
        for (var i = 0; i < e.Count; i++)
        {
            var (start, end) = (e.Offsets[i].Start, e.Offsets[i].End);
            var source = e.SequenceIds[i] switch { 0 => text, 1 => pair, _ => null };
            if (start < 0 || end < start || (source is not null && end > source.Length))
                throw new InvalidOperationException($"token {i} has offsets [{start}, {end}) outside a text of {source?.Length} characters");
            if (e.Ids[i] < 0) throw new InvalidOperationException($"token {i} has id {e.Ids[i]}");
        }
        return e.Count;
    }
}

using System.Text.Json.Nodes;
using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Weights;

namespace TransformerEmbeddings.Tests.Reliability;

/// <summary>
/// A model folder copied into a temporary folder to be damaged: small files are copied, weights linked (or copied when a
/// case edits them). The bases are real folders: the shared test models and the family fixtures, plus a
/// sentence-transformers folder with every module kind (Transformer, Pooling, Dense, Normalize) built around bert-tiny-uncased.
/// </summary>
public sealed class ModelFolderCopy : IDisposable
{
    private ModelFolderCopy(string path) => Path = path;

    public string Path { get; }

    /// <summary>The folder's copy; <paramref name="copyWeights"/> copies the .safetensors files instead of linking them.</summary>
    public static ModelFolderCopy Of(string source, bool copyWeights = false)
    {
        var copy = new ModelFolderCopy(Directory.CreateTempSubdirectory("te-hostile-").FullName);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = copy.File(System.IO.Path.GetRelativePath(source, file));
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
            if (file.EndsWith(".safetensors", StringComparison.Ordinal) && !copyWeights)
            {
                System.IO.File.CreateSymbolicLink(target, file); // never written: the shared file stays as it is
                continue;
            }
            System.IO.File.Copy(file, target);
            System.IO.File.SetAttributes(target, FileAttributes.Normal); // the shared files are read-only
        }
        return copy;
    }

    /// <summary>bert-tiny-uncased as a sentence-transformers folder: mean pooling, a Dense 64 → 32 (tanh), Normalize.</summary>
    public static ModelFolderCopy SentenceTransformers()
    {
        var copy = Of(SharedData.Model("bert-tiny-uncased"));
        copy.Write("modules.json", """
            [
              {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
              {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
              {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
              {"idx": 3, "name": "3", "path": "3_Normalize", "type": "sentence_transformers.models.Normalize"}
            ]
            """);
        copy.Write("sentence_bert_config.json", """{"max_seq_length": 128, "do_lower_case": false}""");
        copy.Write("config_sentence_transformers.json", """{"prompts": {"query": "query: "}, "default_prompt_name": null, "similarity_fn_name": "cosine"}""");
        copy.Write("1_Pooling/config.json", """{"word_embedding_dimension": 64, "pooling_mode_mean_tokens": true}""");
        copy.Write("2_Dense/config.json", """{"in_features": 64, "out_features": 32, "bias": true, "activation_function": "torch.nn.modules.activation.Tanh"}""");
        var random = new Random(26);
        byte[] Floats(int n)
        {
            var values = new float[n];
            for (var i = 0; i < n; i++) values[i] = (float)(random.NextDouble() - 0.5) / 4;
            return System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        }
        SafeTensorsWriter.Write(copy.File("2_Dense/model.safetensors"),
        [
            new SafeTensorEntry("linear.weight", SafeTensorsDType.F32, [32, 64], Floats(32 * 64)),
            new SafeTensorEntry("linear.bias", SafeTensorsDType.F32, [32], Floats(32)),
        ]);
        Directory.CreateDirectory(copy.File("3_Normalize"));
        return copy;
    }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Write(string name, string text)
    {
        var path = File(name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        if (System.IO.File.Exists(path) || IsLink(path)) System.IO.File.Delete(path);
        System.IO.File.WriteAllText(path, text);
    }

    public void WriteBytes(string name, byte[] bytes)
    {
        var path = File(name);
        if (System.IO.File.Exists(path) || IsLink(path)) System.IO.File.Delete(path);
        System.IO.File.WriteAllBytes(path, bytes);
    }

    public string Read(string name) => System.IO.File.ReadAllText(File(name));

    /// <summary>Edits a JSON file in place (the node is the root).</summary>
    public void Json(string name, Action<JsonNode> edit)
    {
        var node = JsonNode.Parse(Read(name))!;
        edit(node);
        Write(name, node.ToJsonString());
    }

    public void Delete(string name)
    {
        var path = File(name);
        if (Directory.Exists(path) && !IsLink(path)) Directory.Delete(path, recursive: true);
        else System.IO.File.Delete(path);
    }

    /// <summary>Replaces a file or folder by a symbolic link to <paramref name="target"/> (relative to the link's folder).</summary>
    public void Link(string name, string target)
    {
        Delete(name);
        System.IO.File.CreateSymbolicLink(File(name), target);
    }

    /// <summary>Writes one element of a weight tensor of the (copied) checkpoint file: raw little-endian bytes.</summary>
    public void Poke(string file, string tensor, long element, byte[] value)
    {
        long offset;
        using (var f = SafeTensorsFile.Open(File(file)))
        {
            var info = f.GetTensor(tensor);
            offset = f.DataStart + info.ByteOffset + element * info.DType.ElementSize();
        }
        using var stream = new FileStream(File(file), FileMode.Open, FileAccess.Write);
        stream.Position = offset;
        stream.Write(value);
    }

    private static bool IsLink(string path) => new FileInfo(path).LinkTarget is not null;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

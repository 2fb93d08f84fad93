using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Tests.Infrastructure;
using TransformerEmbeddings.Weights;
using Xunit;
using static TorchSharp.torch;

namespace TransformerEmbeddings.Tests.Modeling;

/// <summary>The loader's per-family layout: prefixes with and without, dtypes, MLM heads and their tied keys, and its errors.</summary>
public sealed class FamilyLoadingTests : IDisposable
{
    private readonly string temp = Directory.CreateTempSubdirectory("te-family-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    [Theory]
    [InlineData("distilbert-tiny", ModelArchitecture.DistilBert, "", SafeTensorsDType.F32, false, false)]
    [InlineData("distilbert-tiny-mlm", ModelArchitecture.DistilBert, "distilbert.", SafeTensorsDType.BF16, false, true)]
    [InlineData("mpnet-tiny", ModelArchitecture.MPNet, "", SafeTensorsDType.F32, true, false)]
    [InlineData("mpnet-tiny-mlm", ModelArchitecture.MPNet, "mpnet.", SafeTensorsDType.F16, false, true)]
    [InlineData("xlmr-tiny", ModelArchitecture.Roberta, "", SafeTensorsDType.F32, true, false)]
    [InlineData("xlmr-tiny-mlm", ModelArchitecture.Roberta, "roberta.", SafeTensorsDType.BF16, false, true)]
    public void Each_family_folder_loads_the_way_it_is_laid_out(
        string model, ModelArchitecture architecture, string prefix, SafeTensorsDType dtype, bool pooler, bool mlmHead)
    {
        var m = FamilyFixtures.Model(model);
        Assert.Equal(architecture, m.Config.Architecture);
        Assert.Equal(prefix, m.Checkpoint.KeyPrefix);
        Assert.Equal(dtype, m.Checkpoint.SourceDType);
        Assert.Equal(pooler, m.Checkpoint.HasPooler);
        Assert.Equal(mlmHead, m.Checkpoint.HasMaskedLanguageModelHead);
        Assert.Equal(mlmHead, m.MaskedLanguageModel is not null);
        Assert.Equal(ScalarType.Float32, m.DType);
        Assert.Empty(m.Checkpoint.UnusedTensors); // every weight is read; the tied decoders are omitted, as save_pretrained does
    }

    /// <summary>Copies a fixture folder, rewriting its weights through <paramref name="edit"/>.</summary>
    private string CopyWithWeights(string model, Func<List<SafeTensorEntry>, List<SafeTensorEntry>> edit)
    {
        var source = FamilyFixtures.Folder(model);
        var target = Path.Combine(temp, model);
        foreach (var f in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(target, Path.GetRelativePath(source, f));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(f, to);
        }
        List<SafeTensorEntry> entries;
        using (var file = SafeTensorsFile.Open(Path.Combine(source, "model.safetensors")))
            entries = file.Tensors.Select(t => new SafeTensorEntry(t.Name, t.DType, t.Shape, file.GetBytes(t.Name).ToArray())).ToList();
        SafeTensorsWriter.Write(Path.Combine(target, "model.safetensors"), edit(entries));
        return target;
    }

    private static void AssertSameOutput(string model, TransformerModel other)
    {
        var golden = FamilyFixtures.Golden(model);
        using var inputs = FamilyParityTests.IdInputs(other, golden, "");
        using var output = other.Encode(inputs);
        TensorAssert.Close(golden["last_hidden_state"], output.LastHiddenState, golden["attention_mask"], 1e-4, $"{model} rewritten");
    }

    [Theory]
    [InlineData("distilbert-tiny", "distilbert.")]
    [InlineData("mpnet-tiny", "mpnet.")]
    [InlineData("xlmr-tiny", "roberta.")]
    public void A_base_checkpoint_saved_with_the_family_prefix_loads_the_same_numbers(string model, string prefix)
    {
        var folder = CopyWithWeights(model, e => e.Select(t => t with { Name = prefix + t.Name }).ToList());
        using var renamed = TransformerModel.Load(folder);
        Assert.Equal(prefix, renamed.Checkpoint.KeyPrefix);
        Assert.Empty(renamed.Checkpoint.UnusedTensors);
        AssertSameOutput(model, renamed);
    }

    [Theory]
    [InlineData("distilbert-tiny-mlm", "distilbert.")]
    [InlineData("mpnet-tiny-mlm", "mpnet.")]
    [InlineData("xlmr-tiny-mlm", "roberta.")]
    public void A_head_checkpoint_without_the_prefix_keeps_its_head(string model, string prefix)
    {
        var folder = CopyWithWeights(model, e => e.Select(t => t with { Name = t.Name.StartsWith(prefix, StringComparison.Ordinal) ? t.Name[prefix.Length..] : t.Name }).ToList());
        using var stripped = TransformerModel.Load(folder);
        Assert.Equal("", stripped.Checkpoint.KeyPrefix);
        Assert.True(stripped.MaskedLanguageModel is not null);
        AssertSameOutput(model, stripped);
    }

    [Theory]
    [InlineData("distilbert-tiny-mlm", "vocab_projector.weight")]
    [InlineData("mpnet-tiny-mlm", "lm_head.decoder.weight")]
    [InlineData("xlmr-tiny-mlm", "lm_head.decoder.weight")]
    public void Tied_decoder_copies_left_in_a_file_are_not_read_nor_reported(string model, string tiedKey)
    {
        var folder = CopyWithWeights(model, e =>
        {
            var embeddings = e.Single(t => t.Name.EndsWith("embeddings.word_embeddings.weight", StringComparison.Ordinal));
            var head = e.First(t => t.Name is "vocab_projector.bias" or "lm_head.bias");
            // The copy holds zeros: if the decoder read it instead of the word embeddings, every logit would be the bias.
            List<SafeTensorEntry> extra = [embeddings with { Name = tiedKey, Data = new byte[embeddings.Data.Length] }];
            if (tiedKey.StartsWith("lm_head", StringComparison.Ordinal)) extra.Add(head with { Name = "lm_head.decoder.bias" });
            return [.. e, .. extra];
        });
        using var withCopies = TransformerModel.Load(folder);
        Assert.Empty(withCopies.Checkpoint.UnusedTensors);
        var golden = FamilyFixtures.Golden(model);
        using var inputs = FamilyParityTests.IdInputs(withCopies, golden, "");
        using var output = withCopies.Encode(inputs);
        var rows = golden["mlm_rows"];
        var positions = Enumerable.Range(0, (int)rows.shape[0]).Select(i => ((int)rows[i, 0].item<long>(), (int)rows[i, 1].item<long>())).ToList();
        using var logits = withCopies.MaskedLanguageModel!.Logits(output, positions);
        TensorAssert.Close(golden["mlm_logits_selected"], logits, null, 1e-4, $"{model} with tied copies");
    }

    [Theory]
    [InlineData("distilbert-tiny", "transformer.layer.1.attention.q_lin.weight", "[32, 32]")]
    [InlineData("distilbert-tiny", "transformer.layer.0.output_layer_norm.bias", "[32]")]
    [InlineData("mpnet-tiny", "encoder.relative_attention_bias.weight", "[32, 3]")]
    [InlineData("mpnet-tiny", "encoder.layer.1.attention.attn.o.bias", "[36]")]
    [InlineData("xlmr-tiny", "embeddings.token_type_embeddings.weight", "[1, 32]")]
    public void A_missing_tensor_is_named_with_its_expected_shape(string model, string tensor, string shape)
    {
        var folder = CopyWithWeights(model, e => e.Where(t => t.Name != tensor).ToList());
        var ex = Assert.Throws<WeightLoadingException>(() => TransformerModel.Load(folder));
        Assert.Equal(tensor, ex.TensorName);
        Assert.Contains(shape, ex.Message);
    }

    [Fact]
    public void A_checkpoint_of_another_family_fails_naming_the_anchor_and_the_families()
    {
        var folder = CopyWithWeights("mpnet-tiny", e => e.Select(t => t with { Name = t.Name.Replace("embeddings.word_embeddings", "embeddings.tokens") }).ToList());
        var ex = Assert.Throws<WeightLoadingException>(() => TransformerModel.Load(folder));
        Assert.Contains("embeddings.word_embeddings.weight", ex.Message);
        Assert.Contains("MPNet", ex.Message);
    }

    [Theory]
    [InlineData("deberta-v2")]
    [InlineData("albert")]
    public void Unsupported_model_types_fail_with_a_typed_error_naming_them(string type)
    {
        var folder = CopyWithWeights("distilbert-tiny", e => e);
        var config = File.ReadAllText(Path.Combine(folder, "config.json")).Replace("\"distilbert\"", $"\"{type}\"");
        File.WriteAllText(Path.Combine(folder, "config.json"), config);
        var ex = Assert.Throws<ModelConfigurationException>(() => TransformerModel.Load(folder));
        Assert.Equal("model_type", ex.Field);
        Assert.Contains(type, ex.Message);
        Assert.Contains("distilbert", ex.Message);
        Assert.Contains("mpnet", ex.Message);
    }

    [Theory]
    [InlineData("distilbert-tiny")]
    [InlineData("mpnet-tiny")]
    public void Families_without_token_types_have_no_table_and_ignore_type_ids(string model)
    {
        var m = FamilyFixtures.Model(model);
        Assert.Equal(0, m.Config.TypeVocabSize);
        Assert.Null(m.Weights.TokenTypeEmbeddings);
        // Segment ids the tokenizer gives pairs (DistilBERT's and MPNet's mark the second text with 1) change nothing.
        var golden = FamilyFixtures.Golden(model);
        using var withTypes = FamilyParityTests.IdInputs(m, golden, "pairs.");
        using var withoutTypes = EncoderInputs.Create(GoldenTensors.RealRows(golden["pairs.input_ids"], golden["pairs.attention_mask"]), m.Tokenizer.PadTokenId);
        using var a = m.Encode(withTypes);
        using var b = m.Encode(withoutTypes);
        Assert.True(withTypes.TokenTypeIds.max().item<long>() > 0);
        TensorAssert.Equal(a.LastHiddenState, b.LastHiddenState, golden["pairs.attention_mask"], "type ids ignored");
        Assert.Equal(m.Config.HiddenSize, m.Weights.PositionEmbeddings.shape[1]);
    }

    [Theory]
    [InlineData("distilbert-tiny")]
    [InlineData("mpnet-tiny")]
    public void A_WordPiece_family_folder_with_only_vocab_txt_tokenizes_as_its_tokenizer_json(string model)
    {
        var folder = CopyWithWeights(model, e => e);
        File.Delete(Path.Combine(folder, "tokenizer.json"));
        using var m = TransformerModel.Load(folder);
        var (sentences, pairs, _) = GoldenInputs.For(m);
        var path = FamilyFixtures.TokensFile(model);
        foreach (var (expected, actual) in Pooling.GoldenTokens.LoadFile(path, "").Zip(m.Tokenizer.EncodeBatch(sentences))
                     .Concat(Pooling.GoldenTokens.LoadFile(path, "pairs.").Zip(m.Tokenizer.EncodeBatch(pairs))))
        {
            Assert.Equal(expected.Tokens, actual.Tokens);
            Assert.Equal(expected.Ids, actual.Ids);
            Assert.Equal(expected.Offsets, actual.Offsets);
            Assert.Equal(expected.TypeIds, actual.TypeIds);
            Assert.Equal(expected.SpecialTokensMask, actual.SpecialTokensMask);
        }
    }

    [Fact]
    public void XLM_R_has_RoBERTa_s_token_types_and_position_limit()
    {
        var m = FamilyFixtures.Model("xlmr-tiny");
        Assert.Equal(new long[] { 1, 32 }, m.Weights.TokenTypeEmbeddings!.shape);
        Assert.Equal(512, m.Config.MaxSequenceLength);
        Assert.Equal(512, m.Tokenizer.MaxLength);
        Assert.Equal(512, FamilyFixtures.Model("mpnet-tiny").Config.MaxSequenceLength); // 514 positions, padding index 1
        Assert.Equal(512, FamilyFixtures.Model("distilbert-tiny").Config.MaxSequenceLength);
        using var tooLong = EncoderInputs.Create([Enumerable.Repeat(5, 513).ToArray()], 1);
        var e = Assert.Throws<ArgumentException>(() => FamilyFixtures.Model("mpnet-tiny").Encode(tooLong));
        Assert.Contains("513", e.Message);
    }
}

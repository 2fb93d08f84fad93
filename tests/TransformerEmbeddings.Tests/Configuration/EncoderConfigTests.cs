using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Configuration;

public sealed class EncoderConfigTests
{
    private const string Valid = """
        {"model_type": "bert", "vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
         "intermediate_size": 128, "max_position_embeddings": 512, "hidden_act": "gelu_new", "layer_norm_eps": 1e-5}
        """;

    [Fact]
    public void The_test_models_read_as_HF_defines_them()
    {
        var mini = EncoderConfig.Load(SharedData.Model("all-MiniLM-L6-v2"));
        Assert.Equal((384, 6, 12, 1536, 32), (mini.HiddenSize, mini.NumHiddenLayers, mini.NumAttentionHeads, mini.IntermediateSize, mini.HeadDim));
        Assert.Equal(HiddenActivation.Gelu, mini.HiddenAct);
        var cased = EncoderConfig.Load(SharedData.Model("bert-tiny-cased-sharded"));
        Assert.Equal(HiddenActivation.GeluTanh, cased.HiddenAct);
        var roberta = EncoderConfig.Load(SharedData.Model("roberta-tiny"));
        Assert.Equal(ModelArchitecture.Roberta, roberta.Architecture);
        Assert.Equal((1, 1e-5, 1, 512), (roberta.PadTokenId, roberta.LayerNormEps, roberta.TypeVocabSize, roberta.MaxSequenceLength));
    }

    [Theory]
    [InlineData("xlm-roberta")]
    [InlineData("camembert")]
    public void RoBERTa_family_types_read_as_RoBERTa(string type)
    {
        var c = EncoderConfig.Parse(Valid.Replace("\"bert\"", $"\"{type}\""));
        Assert.Equal(ModelArchitecture.Roberta, c.Architecture);
        Assert.Equal(1, c.PadTokenId); // HF's RoBERTa default
    }

    [Theory]
    [InlineData("\"model_type\": \"bert\"", "\"model_type\": \"gpt2\"", "model_type", "gpt2")]
    [InlineData("\"num_attention_heads\": 4", "\"num_attention_heads\": 10", "num_attention_heads", "(64) is not a multiple of the number of attention heads (10)")]
    [InlineData("\"hidden_size\": 64, ", "", "hidden_size", "missing")]
    [InlineData("\"hidden_act\": \"gelu_new\"", "\"hidden_act\": \"mish\"", "hidden_act", "mish")]
    [InlineData("\"max_position_embeddings\": 512", "\"max_position_embeddings\": 512, \"position_embedding_type\": \"relative_key\"", "position_embedding_type", "relative_key")]
    [InlineData("\"vocab_size\": 100", "\"vocab_size\": -3", "vocab_size", "-3")]
    [InlineData("\"vocab_size\": 100", "\"vocab_size\": \"many\"", "vocab_size", "many")]
    [InlineData("\"layer_norm_eps\": 1e-5", "\"layer_norm_eps\": 0", "layer_norm_eps", "0")]
    public void Invalid_configs_name_the_file_field_and_value(string from, string to, string field, string mentioned)
    {
        var e = Assert.Throws<ModelConfigurationException>(() => EncoderConfig.Parse(Valid.Replace(from, to), "/models/x/config.json"));
        Assert.Equal(field, e.Field);
        Assert.Equal("/models/x/config.json", e.FilePath);
        Assert.Contains(mentioned, e.Message);
        Assert.Contains("/models/x/config.json", e.Message);
    }

    [Fact]
    public void Malformed_or_missing_files_fail_with_the_path()
    {
        Assert.Throws<ModelConfigurationException>(() => EncoderConfig.Parse("{not json", "c.json"));
        Assert.Throws<ModelConfigurationException>(() => EncoderConfig.Parse("[1, 2]", "c.json"));
        var missing = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<ModelConfigurationException>(() => EncoderConfig.Load(missing));
        Assert.Contains(missing, e.Message);
    }
}

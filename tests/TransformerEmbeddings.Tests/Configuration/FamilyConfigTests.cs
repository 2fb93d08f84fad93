using TransformerEmbeddings.Configuration;
using TransformerEmbeddings.Tests.Infrastructure;
using Xunit;

namespace TransformerEmbeddings.Tests.Configuration;

/// <summary>DistilBERT's and MPNet's config.json under the one set of names, with HF's defaults and errors that name the field as written.</summary>
public sealed class FamilyConfigTests
{
    private const string DistilBert = """
        {"model_type": "distilbert", "vocab_size": 100, "dim": 64, "n_layers": 3, "n_heads": 4, "hidden_dim": 256,
         "max_position_embeddings": 512, "activation": "relu", "sinusoidal_pos_embds": true, "layer_norm_eps": 1e-5}
        """;

    private const string MPNet = """
        {"model_type": "mpnet", "vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
         "intermediate_size": 128, "max_position_embeddings": 514, "layer_norm_eps": 1e-5}
        """;

    [Fact]
    public void DistilBERT_fields_read_as_the_shared_names()
    {
        var c = EncoderConfig.Parse(DistilBert);
        Assert.Equal(ModelArchitecture.DistilBert, c.Architecture);
        Assert.Equal((64, 3, 4, 256, 16), (c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize, c.HeadDim));
        Assert.Equal(HiddenActivation.Relu, c.HiddenAct);
        Assert.Equal(1e-12, c.LayerNormEps); // HF's DistilBERT hard-codes its LayerNorm eps
        Assert.Equal((0, 0, 512), (c.TypeVocabSize, c.PadTokenId, c.MaxSequenceLength));
        // HF's attribute_map lets a DistilBERT config say hidden_size / num_attention_heads / num_hidden_layers too.
        var aliased = EncoderConfig.Parse(DistilBert.Replace("\"dim\"", "\"hidden_size\"").Replace("\"n_heads\"", "\"num_attention_heads\"").Replace("\"n_layers\"", "\"num_hidden_layers\""));
        Assert.Equal((64, 3, 4), (aliased.HiddenSize, aliased.NumHiddenLayers, aliased.NumAttentionHeads));
    }

    [Fact]
    public void MPNet_fields_and_defaults()
    {
        var c = EncoderConfig.Parse(MPNet);
        Assert.Equal(ModelArchitecture.MPNet, c.Architecture);
        Assert.Equal((1, 0, 32, 512), (c.PadTokenId, c.TypeVocabSize, c.RelativeAttentionNumBuckets, c.MaxSequenceLength));
        Assert.Equal(1e-5, c.LayerNormEps);
        Assert.Equal(HiddenActivation.Gelu, c.HiddenAct);
        // Position ids count from 1 whatever pad_token_id says, as HF's MPNetEmbeddings.
        Assert.Equal(512, EncoderConfig.Parse(MPNet.Replace("\"layer_norm_eps\"", "\"pad_token_id\": 0, \"layer_norm_eps\"")).MaxSequenceLength);
    }

    [Theory]
    [InlineData(DistilBert, "\"n_heads\": 4", "\"n_heads\": 5", "n_heads", "(64) is not a multiple of the number of attention heads (5)")]
    [InlineData(DistilBert, "\"hidden_dim\": 256,", "", "hidden_dim", "missing")]
    [InlineData(DistilBert, "\"activation\": \"relu\"", "\"activation\": \"mish\"", "activation", "mish")]
    [InlineData(DistilBert, "\"dim\": 64, ", "", "dim", "missing")]
    [InlineData(MPNet, "\"layer_norm_eps\": 1e-5", "\"relative_attention_num_buckets\": 16", "relative_attention_num_buckets", "32")]
    [InlineData(MPNet, "\"max_position_embeddings\": 514", "\"max_position_embeddings\": 2", "max_position_embeddings", "no usable positions")]
    [InlineData(MPNet, "\"intermediate_size\": 128, ", "", "intermediate_size", "missing")]
    public void Invalid_family_configs_name_the_field_as_written(string json, string from, string to, string field, string mentioned)
    {
        Assert.Contains(from, json);
        var e = Assert.Throws<ModelConfigurationException>(() => EncoderConfig.Parse(json.Replace(from, to), "/models/x/config.json"));
        Assert.Equal(field, e.Field);
        Assert.Contains(mentioned, e.Message);
    }

    [Theory]
    [MemberData(nameof(FamilyFixtures.AllModels), MemberType = typeof(FamilyFixtures))]
    public void The_fixture_configs_read(string model)
    {
        var c = EncoderConfig.Load(FamilyFixtures.Folder(model));
        Assert.Equal(c.HiddenSize, c.HeadDim * c.NumAttentionHeads);
        Assert.True(c.NumHiddenLayers >= 2);
    }
}

"""A float64 reference of HuggingFace's encoders in numpy, written line by line from transformers' modeling files:

- BertModel / RobertaModel / XLMRobertaModel (models/bert/modeling_bert.py, models/roberta/modeling_roberta.py,
  models/xlm_roberta/modeling_xlm_roberta.py: XLM-R's classes are RoBERTa's, "Copied from ... with Roberta->XLMRoberta"),
  BertForMaskedLM's cls.predictions and RobertaLMHead / XLMRobertaLMHead.
- DistilBertModel (models/distilbert/modeling_distilbert.py: Embeddings, MultiHeadSelfAttention, FFN,
  TransformerBlock, Transformer) and DistilBertForMaskedLM's vocab_transform / vocab_layer_norm / vocab_projector.
- MPNetModel (models/mpnet/modeling_mpnet.py: MPNetEmbeddings, MPNetSelfAttention, MPNetAttention, MPNetEncoder with
  its relative position bias, MPNetPooler) and MPNetLMHead.

Eval mode (no dropout), eager attention, HF v4 head_mask semantics (probabilities of head h in layer l multiplied by
head_mask[l, h]). Every activation is float64; weights of any stored dtype are widened to float64.
Only numpy is needed (Debian's python3-numpy).
"""
import json
import math
import struct

import numpy as np

# ---------------------------------------------------------------------------------------------------- safetensors

_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32, "BF16": None}


def read_safetensors(path):
    """name -> array (floats widened to float64, BF16 included; integers as int64)."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[base + begin:base + end]
        shape = info["shape"]
        if info["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32).astype(np.float64)
        else:
            t = _DTYPES[info["dtype"]]
            array = np.frombuffer(raw, dtype=np.dtype(t).newbyteorder("<"))
            array = array.astype(np.float64 if np.issubdtype(t, np.floating) else np.int64)
        out[name] = array.reshape(shape)
    return out


def read_checkpoint(folder):
    """model.safetensors, or the shards named by model.safetensors.index.json."""
    import os
    single = os.path.join(folder, "model.safetensors")
    if os.path.exists(single):
        return read_safetensors(single)
    with open(os.path.join(folder, "model.safetensors.index.json")) as f:
        shards = sorted(set(json.load(f)["weight_map"].values()))
    out = {}
    for s in shards:
        out.update(read_safetensors(os.path.join(folder, s)))
    return out


def to_bf16_bits(a):
    """float -> bfloat16 bits, round to nearest even (torch's conversion)."""
    bits = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def from_bf16_bits(b):
    return (b.astype(np.uint32) << 16).view(np.float32)


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> (array, dtype) with dtype F32, F16, BF16 (array of float values) or I64."""
    names = sorted(tensors)
    blobs, header, offset = [], {}, 0
    for name in names:
        array, dtype = tensors[name]
        if dtype == "BF16":
            raw = to_bf16_bits(array).astype("<u2").tobytes()
        else:
            raw = np.ascontiguousarray(array, dtype={"F32": "<f4", "F16": "<f2", "I64": "<i8", "F64": "<f8"}[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(np.shape(array)), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata is not None:
        header = {"__metadata__": metadata, **header}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)  # as safetensors: the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------------------------------------------- functions

_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x):
    """HF GELUActivation / torch.nn.functional.gelu: the exact, erf-based GELU."""
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def gelu_tanh(x):
    """HF NewGELUActivation (gelu_new), PytorchGELUTanh (gelu_pytorch_tanh), FastGELUActivation (gelu_fast): one formula."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * np.power(x, 3.0))))


ACT2FN = {
    "gelu": gelu,
    "gelu_new": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "gelu_fast": gelu_tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "silu": lambda x: x / (1.0 + np.exp(-x)),
    "swish": lambda x: x / (1.0 + np.exp(-x)),
}


def linear(x, w, b):
    """torch.nn.Linear: x Wᵀ + b."""
    return x @ w.T + b


def layer_norm(x, w, b, eps):
    """torch.nn.LayerNorm over the last dimension (biased variance)."""
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def softmax(x):
    m = x.max(-1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(-1, keepdims=True)


def split_heads(x, heads):
    """(B, S, H) -> (B, heads, S, d): HF's transpose_for_scores / DistilBERT's shape()."""
    b, s, h = x.shape
    return x.reshape(b, s, heads, h // heads).transpose(0, 2, 1, 3)


def merge_heads(x):
    b, n, s, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, s, n * d)


def create_position_ids_from_input_ids(input_ids, padding_idx):
    """RoBERTa's and MPNet's: padding_idx + cumsum over non-padding tokens; padding keeps padding_idx."""
    mask = (input_ids != padding_idx).astype(np.int64)
    return np.cumsum(mask, axis=1) * mask + padding_idx


def extended_attention_mask(attention_mask):
    """ModuleUtilsMixin.get_extended_attention_mask: (1 - mask) * finfo(dtype).min, as (B, 1, 1, S)."""
    m = attention_mask.astype(np.float64)[:, None, None, :]
    return (1.0 - m) * np.finfo(np.float64).min


def strip_prefix(weights, prefix):
    """The base model's tensors by module path: HF loads <prefix>.* of a *For... checkpoint into the base model."""
    if any(k.startswith(prefix + ".") for k in weights):
        return {k[len(prefix) + 1:]: v for k, v in weights.items() if k.startswith(prefix + ".")}
    return weights


def fix_legacy_names(weights):
    """PreTrainedModel._fix_key: TF-converted checkpoints name LayerNorm parameters gamma/beta."""
    def fix(k):
        if "LayerNorm" in k:
            k = k.replace(".gamma", ".weight") if k.endswith(".gamma") else k.replace(".beta", ".bias") if k.endswith(".beta") else k
        return k
    return {fix(k): v for k, v in weights.items()}


def _trace(capture, name, value):
    if capture is not None:
        capture[name] = value


# ---------------------------------------------------------------------------------------------------- BERT / RoBERTa / XLM-R


def bert_model(w, cfg, input_ids, attention_mask, token_type_ids, head_mask=None, capture=None):
    """BertModel / RobertaModel / XLMRobertaModel.forward: returns (last_hidden_state, pooler_output or None)."""
    roberta = cfg["model_type"] in ("roberta", "xlm-roberta", "camembert")
    b, s = input_ids.shape
    if roberta:
        position_ids = create_position_ids_from_input_ids(input_ids, cfg.get("pad_token_id", 1))
    else:
        position_ids = np.broadcast_to(np.arange(s), (b, s))
    eps = cfg.get("layer_norm_eps", 1e-12)
    heads = cfg["num_attention_heads"]
    d = cfg["hidden_size"] // heads
    act = ACT2FN[cfg.get("hidden_act", "gelu")]

    # BertEmbeddings.forward
    inputs_embeds = w["embeddings.word_embeddings.weight"][input_ids]
    _trace(capture, "word_embeddings", inputs_embeds)
    embeddings = inputs_embeds + w["embeddings.token_type_embeddings.weight"][token_type_ids]
    embeddings = embeddings + w["embeddings.position_embeddings.weight"][position_ids]
    x = layer_norm(embeddings, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    _trace(capture, "hidden_states.0", x)
    _trace(capture, "position_ids", position_ids)

    mask = extended_attention_mask(attention_mask)
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        # BertSelfAttention.forward (eager)
        q = split_heads(linear(x, w[p + "attention.self.query.weight"], w[p + "attention.self.query.bias"]), heads)
        k = split_heads(linear(x, w[p + "attention.self.key.weight"], w[p + "attention.self.key.bias"]), heads)
        v = split_heads(linear(x, w[p + "attention.self.value.weight"], w[p + "attention.self.value.bias"]), heads)
        scores = q @ k.transpose(0, 1, 3, 2)
        scores = scores / math.sqrt(d)
        scores = scores + mask
        probs = softmax(scores)
        if head_mask is not None:
            probs = probs * head_mask[l][None, :, None, None]
        context = probs @ v
        # BertSelfOutput.forward
        attention_output = layer_norm(
            linear(merge_heads(context), w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"]) + x,
            w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
        # BertIntermediate.forward, BertOutput.forward
        intermediate = act(linear(attention_output, w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"]))
        x = layer_norm(
            linear(intermediate, w[p + "output.dense.weight"], w[p + "output.dense.bias"]) + attention_output,
            w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        for name, value in (("query", q), ("key", k), ("value", v), ("attentions", probs), ("context", context),
                            ("attention_output", attention_output), ("intermediate", intermediate),
                            ("hidden_states", x)):
            _trace(capture, f"{name}.{l + 1 if name == 'hidden_states' else l}", value)

    pooled = None
    if "pooler.dense.weight" in w:  # BertPooler
        pooled = np.tanh(linear(x[:, 0], w["pooler.dense.weight"], w["pooler.dense.bias"]))
    return x, pooled


def bert_mlm_logits(head, cfg, word_embeddings, hidden):
    """BertOnlyMLMHead (cls.predictions: transform dense, activation, LayerNorm; decoder tied to E, plus bias)."""
    x = linear(hidden, head["cls.predictions.transform.dense.weight"], head["cls.predictions.transform.dense.bias"])
    x = ACT2FN[cfg.get("hidden_act", "gelu")](x)
    x = layer_norm(x, head["cls.predictions.transform.LayerNorm.weight"], head["cls.predictions.transform.LayerNorm.bias"],
                   cfg.get("layer_norm_eps", 1e-12))
    return x @ word_embeddings.T + head["cls.predictions.bias"]


def roberta_lm_logits(head, cfg, word_embeddings, hidden):
    """RobertaLMHead / XLMRobertaLMHead / MPNetLMHead: dense, gelu, layer_norm, decoder tied to E, plus bias."""
    x = gelu(linear(hidden, head["lm_head.dense.weight"], head["lm_head.dense.bias"]))
    x = layer_norm(x, head["lm_head.layer_norm.weight"], head["lm_head.layer_norm.bias"], cfg.get("layer_norm_eps", 1e-12))
    return x @ word_embeddings.T + head["lm_head.bias"]


# ---------------------------------------------------------------------------------------------------- DistilBERT


def distilbert_model(w, cfg, input_ids, attention_mask, token_type_ids=None, head_mask=None, capture=None):
    """DistilBertModel.forward: returns (last_hidden_state, None). No token types, no pooler; LayerNorm eps is 1e-12."""
    b, s = input_ids.shape
    heads, dim = cfg["n_heads"], cfg["dim"]
    dim_per_head = dim // heads
    act = ACT2FN[cfg.get("activation", "gelu")]

    # Embeddings.forward: position_ids = self.position_ids[:, :seq_length]
    position_ids = np.broadcast_to(np.arange(s), (b, s))
    word_embeddings = w["embeddings.word_embeddings.weight"][input_ids]
    _trace(capture, "word_embeddings", word_embeddings)
    embeddings = word_embeddings + w["embeddings.position_embeddings.weight"][position_ids]
    x = layer_norm(embeddings, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], 1e-12)
    _trace(capture, "hidden_states.0", x)
    _trace(capture, "position_ids", position_ids)

    for l in range(cfg["n_layers"]):
        p = f"transformer.layer.{l}."
        # MultiHeadSelfAttention.forward
        q = split_heads(linear(x, w[p + "attention.q_lin.weight"], w[p + "attention.q_lin.bias"]), heads)
        k = split_heads(linear(x, w[p + "attention.k_lin.weight"], w[p + "attention.k_lin.bias"]), heads)
        v = split_heads(linear(x, w[p + "attention.v_lin.weight"], w[p + "attention.v_lin.bias"]), heads)
        scores = (q / math.sqrt(dim_per_head)) @ k.transpose(0, 1, 3, 2)
        masked = (attention_mask == 0)[:, None, None, :]
        scores = np.where(masked, np.finfo(np.float64).min, scores)  # masked_fill(mask, finfo.min)
        weights = softmax(scores)
        if head_mask is not None:
            weights = weights * head_mask[l][None, :, None, None]
        context = weights @ v
        sa_output = linear(merge_heads(context), w[p + "attention.out_lin.weight"], w[p + "attention.out_lin.bias"])
        # TransformerBlock.forward
        sa_output = layer_norm(sa_output + x, w[p + "sa_layer_norm.weight"], w[p + "sa_layer_norm.bias"], 1e-12)
        # FFN.ff_chunk
        hidden = act(linear(sa_output, w[p + "ffn.lin1.weight"], w[p + "ffn.lin1.bias"]))
        ffn_output = linear(hidden, w[p + "ffn.lin2.weight"], w[p + "ffn.lin2.bias"])
        x = layer_norm(ffn_output + sa_output, w[p + "output_layer_norm.weight"], w[p + "output_layer_norm.bias"], 1e-12)
        # The shared names: q/k/v are the Linear outputs per head (before DistilBERT scales q), attention_output the
        # block's output after sa_layer_norm, intermediate the activation of lin1.
        for name, value in (("query", q), ("key", k), ("value", v), ("attentions", weights), ("context", context),
                            ("attention_output", sa_output), ("intermediate", hidden), ("hidden_states", x)):
            _trace(capture, f"{name}.{l + 1 if name == 'hidden_states' else l}", value)
    return x, None


def distilbert_mlm_logits(head, cfg, word_embeddings, hidden):
    """DistilBertForMaskedLM: vocab_transform, activation, vocab_layer_norm (eps 1e-12), vocab_projector tied to E."""
    x = linear(hidden, head["vocab_transform.weight"], head["vocab_transform.bias"])
    x = ACT2FN[cfg.get("activation", "gelu")](x)
    x = layer_norm(x, head["vocab_layer_norm.weight"], head["vocab_layer_norm.bias"], 1e-12)
    return x @ word_embeddings.T + head["vocab_projector.bias"]


def distilbert_sinusoidal_table(n_pos, dim):
    """_create_sinusoidal_embeddings (sinusoidal_pos_embds: true), as float32 like the parameter it fills."""
    position_enc = np.array([[pos / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)] for pos in range(n_pos)])
    out = np.zeros((n_pos, dim), dtype=np.float32)
    out[:, 0::2] = np.sin(position_enc[:, 0::2])
    out[:, 1::2] = np.cos(position_enc[:, 1::2])
    return out


# ---------------------------------------------------------------------------------------------------- MPNet


def mpnet_relative_position_bucket(relative_position, num_buckets=32, max_distance=128):
    """MPNetEncoder.relative_position_bucket, in the dtypes torch uses: the log in float32, truncated to int64."""
    ret = np.zeros_like(relative_position)
    n = -relative_position
    num_buckets //= 2
    ret += (n < 0).astype(np.int64) * num_buckets
    n = np.abs(n)
    max_exact = num_buckets // 2
    is_small = n < max_exact
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.log(n.astype(np.float32) / np.float32(max_exact)) / np.float32(math.log(max_distance / max_exact))
        scaled = scaled * np.float32(num_buckets - max_exact)
        val_if_large = max_exact + np.where(is_small, 0, scaled).astype(np.int64)
    val_if_large = np.minimum(val_if_large, num_buckets - 1)
    ret += np.where(is_small, n, val_if_large)
    return ret


def mpnet_position_bias(w, s, num_buckets=32):
    """MPNetEncoder.compute_position_bias without position_ids: (heads, S, S), the same for every row of a batch."""
    context_position = np.arange(s)[:, None]
    memory_position = np.arange(s)[None, :]
    relative_position = memory_position - context_position
    rp_bucket = mpnet_relative_position_bucket(relative_position, num_buckets=num_buckets)
    values = w["encoder.relative_attention_bias.weight"][rp_bucket]  # (S, S, heads)
    return values.transpose(2, 0, 1)


def mpnet_model(w, cfg, input_ids, attention_mask, token_type_ids=None, head_mask=None, capture=None):
    """MPNetModel.forward: returns (last_hidden_state, pooler_output or None)."""
    b, s = input_ids.shape
    eps = cfg.get("layer_norm_eps", 1e-12)
    heads = cfg["num_attention_heads"]
    d = cfg["hidden_size"] // heads
    act = ACT2FN[cfg.get("hidden_act", "gelu")]

    # MPNetEmbeddings.forward: padding_idx is 1 whatever pad_token_id says
    position_ids = create_position_ids_from_input_ids(input_ids, 1)
    inputs_embeds = w["embeddings.word_embeddings.weight"][input_ids]
    _trace(capture, "word_embeddings", inputs_embeds)
    embeddings = inputs_embeds + w["embeddings.position_embeddings.weight"][position_ids]
    x = layer_norm(embeddings, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    _trace(capture, "hidden_states.0", x)
    _trace(capture, "position_ids", position_ids)

    mask = extended_attention_mask(attention_mask)
    position_bias = mpnet_position_bias(w, s)[None]  # compute_position_bias: (1, heads, S, S), expanded over B
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        # MPNetSelfAttention.forward
        q = split_heads(linear(x, w[p + "attention.attn.q.weight"], w[p + "attention.attn.q.bias"]), heads)
        k = split_heads(linear(x, w[p + "attention.attn.k.weight"], w[p + "attention.attn.k.bias"]), heads)
        v = split_heads(linear(x, w[p + "attention.attn.v.weight"], w[p + "attention.attn.v.bias"]), heads)
        attention_scores = q @ k.transpose(0, 1, 3, 2)
        attention_scores = attention_scores / math.sqrt(d)
        attention_scores = attention_scores + position_bias
        attention_scores = attention_scores + mask
        attention_probs = softmax(attention_scores)
        if head_mask is not None:
            attention_probs = attention_probs * head_mask[l][None, :, None, None]
        c = attention_probs @ v
        o = linear(merge_heads(c), w[p + "attention.attn.o.weight"], w[p + "attention.attn.o.bias"])
        # MPNetAttention.forward
        attention_output = layer_norm(o + x, w[p + "attention.LayerNorm.weight"], w[p + "attention.LayerNorm.bias"], eps)
        # MPNetIntermediate, MPNetOutput (copies of BERT's)
        intermediate = act(linear(attention_output, w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"]))
        x = layer_norm(
            linear(intermediate, w[p + "output.dense.weight"], w[p + "output.dense.bias"]) + attention_output,
            w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        for name, value in (("query", q), ("key", k), ("value", v), ("attentions", attention_probs), ("context", c),
                            ("attention_output", attention_output), ("intermediate", intermediate),
                            ("hidden_states", x)):
            _trace(capture, f"{name}.{l + 1 if name == 'hidden_states' else l}", value)

    pooled = None
    if "pooler.dense.weight" in w:  # MPNetPooler
        pooled = np.tanh(linear(x[:, 0], w["pooler.dense.weight"], w["pooler.dense.bias"]))
    return x, pooled


# ---------------------------------------------------------------------------------------------------- families

# model_type -> (base_model_prefix, forward, MLM logits or None)
FAMILIES = {
    "bert": ("bert", bert_model, bert_mlm_logits),
    "roberta": ("roberta", bert_model, roberta_lm_logits),
    "xlm-roberta": ("roberta", bert_model, roberta_lm_logits),
    "distilbert": ("distilbert", distilbert_model, distilbert_mlm_logits),
    "mpnet": ("mpnet", mpnet_model, roberta_lm_logits),
}


def has_mlm_head(model_type, weights):
    keys = {"bert": "cls.predictions.bias", "distilbert": "vocab_projector.bias"}
    return keys.get(model_type, "lm_head.bias") in weights


# ---------------------------------------------------------------------------------------------------- pooling


def pools(hidden_states, last, attention_mask):
    """The pool.* tensors of shared/README.md (sentence-transformers' Pooling conventions)."""
    m = attention_mask.astype(np.float64)[:, :, None]
    mean = (last * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    norm = np.maximum(np.sqrt((mean ** 2).sum(-1, keepdims=True)), 1e-12)
    masked = np.where(m > 0, last, -1e9)
    last4 = np.mean(np.stack(hidden_states[-4:]), axis=0)
    return {
        "pool.cls": last[:, 0],
        "pool.mean": mean,
        "pool.mean_normalized": mean / norm,
        "pool.max": masked.max(1),
        "pool.last4_mean": (last4 * m).sum(1) / np.maximum(m.sum(1), 1e-9),
    }

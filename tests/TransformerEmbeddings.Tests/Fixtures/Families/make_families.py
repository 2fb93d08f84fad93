"""Tiny random checkpoints of the encoder families as HuggingFace model folders, and what HF computes with them.

    /usr/bin/python3 make_families.py --check     # the reference reproduces shared/golden (proves it first)
    npm ci && /usr/bin/python3 make_families.py   # writes the folders and <folder>.safetensors / .tokens.json

Needs Debian's python3-numpy and node with HF tokenizers 0.23.2 (package.json; encode.mjs is the tokenizer side).

--check runs reference.py (a float64 numpy transcription of HF's modeling files) on the shared test models
(bert-tiny-uncased, bert-tiny-cased-sharded, roberta-tiny) with the golden inputs and compares every golden tensor:
the reference must reproduce HF's goldens within 1e-6 before its numbers for the new families can be trusted.

Without --check it writes, deterministically (seeded), for each folder of FOLDERS below:
- <folder>/: config.json, model.safetensors (HF key names, with or without the base-model prefix, the head of a
  *ForMaskedLM with its tied decoder omitted as save_pretrained does), tokenizer files;
  sentence-transformers files where the folder is one (modules.json, 1_Pooling, 2_Normalize, prompts);
- <folder>.tokens.json: HF's tokenization of shared/golden/inputs.json ({mask} replaced by the mask token), in the
  format of shared/golden/<model>.tokens.json;
- <folder>.safetensors: the tensors of shared/README.md, float32 from the float64 reference: the sentences, pairs
  and long batches (right-padded with the pad id), hidden_states, attentions, query/key/value/context,
  attention_output, intermediate, last_hidden_state, pooler_output, pool.*, head_mask and
  head_masked.last_hidden_state, mlm_* where the checkpoint has an MLM head, st.* for sentence-transformers folders.
  Padded positions are not part of the contract and are written as 0 (so the fixtures stay small).
"""
import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

import reference as R

HERE = os.path.dirname(os.path.abspath(__file__))
UNIGRAM = os.path.join(HERE, "..", "Unigram", "xlmr-unigram")


def find_shared(explicit):
    if explicit:
        return os.path.abspath(explicit)
    if os.environ.get("TE_SHARED"):
        return os.path.abspath(os.environ["TE_SHARED"])
    d = HERE
    while True:
        if os.path.exists(os.path.join(d, "TransformerEmbeddings.sln")):
            return os.path.abspath(os.path.join(d, "..", "shared"))
        up = os.path.dirname(d)
        if up == d:
            sys.exit("TransformerEmbeddings.sln not found above " + HERE + "; pass --shared")
        d = up


def load_config(folder):
    with open(os.path.join(folder, "config.json")) as f:
        return json.load(f)


def base_weights(cfg, weights):
    prefix = R.FAMILIES[cfg["model_type"]][0]
    return R.strip_prefix(R.fix_legacy_names(weights), prefix)


def run(cfg, weights, ids, mask, types, head_mask=None, capture=None):
    forward = R.FAMILIES[cfg["model_type"]][1]
    return forward(base_weights(cfg, weights), cfg, ids, mask, types, head_mask=head_mask, capture=capture)


def mlm_logits(cfg, weights, hidden):
    head = R.FAMILIES[cfg["model_type"]][2]
    w = base_weights(cfg, weights)
    return head(R.fix_legacy_names(weights), cfg, w["embeddings.word_embeddings.weight"], hidden)


# ---------------------------------------------------------------------------------------------------- --check


def check(shared):
    worst_all = 0.0
    for model in ["bert-tiny-uncased", "bert-tiny-cased-sharded", "roberta-tiny"]:
        folder = os.path.join(shared, "testmodels", model)
        cfg = load_config(folder)
        weights = R.read_checkpoint(folder)
        golden = R.read_safetensors(os.path.join(shared, "golden", model + ".safetensors"))
        ours = {}
        for batch in ["", "pairs.", "long."]:
            ids, mask, types = (golden[batch + n] for n in ("input_ids", "attention_mask", "token_type_ids"))
            capture = {}
            last, pooled = run(cfg, weights, ids, mask, types, capture=capture)
            capture["last_hidden_state"] = last
            if pooled is not None:
                capture["pooler_output"] = pooled
            hidden = [capture[f"hidden_states.{i}"] for i in range(cfg["num_hidden_layers"] + 1)]
            capture.update(R.pools(hidden, last, mask))
            ours.update({batch + k: v for k, v in capture.items()})
            if batch == "":
                if "head_mask" in golden:
                    masked, _ = run(cfg, weights, ids, mask, types, head_mask=golden["head_mask"])
                    ours["head_masked.last_hidden_state"] = masked
                if "mlm_rows" in golden:
                    rows = golden["mlm_rows"]
                    ours["mlm_logits_selected"] = mlm_logits(cfg, weights, last[rows[:, 0], rows[:, 1]])
        compared, worst, where = 0, 0.0, ""
        for name, expected in sorted(golden.items()):
            if name not in ours:
                continue
            actual = ours[name]
            if expected.dtype == np.int64:
                assert np.array_equal(expected, actual), f"{model} {name}: integer tensor differs"
                continue
            d = float(np.max(np.abs(expected - actual.astype(np.float32).astype(np.float64)))) if expected.size else 0.0
            compared += 1
            if d > worst:
                worst, where = d, name
        missing = sorted(n for n in golden if n not in ours and not n.startswith(("mlm_top5", "st.", "mlm_rows", "head_mask")))
        print(f"{model}: {compared} golden tensors reproduced, max abs diff {worst:.2e} ({where}); not computed: {missing or 'none'}")
        worst_all = max(worst_all, worst)
    ok = worst_all <= 1e-6
    print("reference check:", "PASS" if ok else "FAIL", f"(max abs diff {worst_all:.2e}, limit 1e-6)")
    # MPNet's buckets as torch computes them (float32 logarithm) equal the exact definition at every distance:
    # 8 + floor(log2(n^2)) - 6 from distance 8 on, capped at 15, +16 for keys after the query.
    rel = np.arange(-4096, 4097)
    n = np.abs(rel)
    exact = np.where(rel > 0, 16, 0) + np.where(n < 8, n, np.minimum(15, 2 + np.floor(np.log2(np.maximum(n, 1) ** 2)).astype(np.int64)))
    buckets_ok = np.array_equal(R.mpnet_relative_position_bucket(rel), exact)
    print("MPNet buckets (float32 log) equal the exact definition for |distance| <= 4096:", "PASS" if buckets_ok else "FAIL")
    ok = ok and buckets_ok
    return ok


# ---------------------------------------------------------------------------------------------------- folders

TRANSFORMERS_VERSION = "4.57.1"

# name -> what the folder is. "dtype" is the checkpoint's storage type; "prefix" whether keys carry the base-model
# prefix (a *ForMaskedLM checkpoint); "st" the sentence-transformers setup, if any.
FOLDERS = {
    "distilbert-tiny": dict(
        model_type="distilbert", architecture="DistilBertModel", dtype="F32", prefix=False, seed=101,
        config=dict(dim=32, n_heads=4, hidden_dim=64, n_layers=2, activation="gelu", max_position_embeddings=512,
                    sinusoidal_pos_embds=False),
        tokenizer="wordpiece",
        st=dict(pooling="cls", normalize=False, max_seq_length=128)),  # msmarco-distilbert-*-tas-b style
    "distilbert-tiny-mlm": dict(
        model_type="distilbert", architecture="DistilBertForMaskedLM", dtype="BF16", prefix=True, seed=102,
        config=dict(dim=24, n_heads=2, hidden_dim=48, n_layers=3, activation="relu", max_position_embeddings=512,
                    sinusoidal_pos_embds=True),
        tokenizer="wordpiece"),
    "mpnet-tiny": dict(
        model_type="mpnet", architecture="MPNetModel", dtype="F32", prefix=False, seed=201, pooler=True,
        config=dict(hidden_size=36, num_attention_heads=3, intermediate_size=72, num_hidden_layers=2, hidden_act="gelu",
                    layer_norm_eps=1e-5, max_position_embeddings=514, relative_attention_num_buckets=32),
        tokenizer="mpnet-template",
        st=dict(pooling="mean", normalize=True, max_seq_length=128)),  # all-mpnet-base-v2 style
    "mpnet-tiny-mlm": dict(
        model_type="mpnet", architecture="MPNetForMaskedLM", dtype="F16", prefix=True, seed=202,
        config=dict(hidden_size=16, num_attention_heads=2, intermediate_size=32, num_hidden_layers=3, hidden_act="gelu_new",
                    layer_norm_eps=1e-5, max_position_embeddings=514, relative_attention_num_buckets=32),
        tokenizer="mpnet-roberta"),
    "xlmr-tiny": dict(
        model_type="xlm-roberta", architecture="XLMRobertaModel", dtype="F32", prefix=False, seed=301, pooler=True,
        config=dict(hidden_size=32, num_attention_heads=4, intermediate_size=64, num_hidden_layers=2, hidden_act="gelu",
                    layer_norm_eps=1e-5, max_position_embeddings=514, type_vocab_size=1),
        tokenizer="xlmr-unigram",
        st=dict(pooling="mean", normalize=True, max_seq_length=512,
                prompts={"query": "query: ", "passage": "passage: "})),  # multilingual-e5 style
    "xlmr-tiny-mlm": dict(
        model_type="xlm-roberta", architecture="XLMRobertaForMaskedLM", dtype="BF16", prefix=True, seed=302,
        config=dict(hidden_size=16, num_attention_heads=2, intermediate_size=48, num_hidden_layers=2, hidden_act="gelu",
                    layer_norm_eps=1e-5, max_position_embeddings=514, type_vocab_size=1),
        tokenizer="xlmr-unigram"),
}


def wordpiece_vocab(shared, mpnet):
    """A 4,000-token subset of bert-base-uncased's vocabulary (keeps the fixtures small): the special tokens, every
    single character and ##character, then the most frequent words in vocabulary order. MPNet's layout adds <s>,
    <pad>, </s>, <unk> in front and <mask> at the end, as microsoft/mpnet-base's vocab.txt does."""
    with open(os.path.join(shared, "testmodels", "bert-tiny-uncased", "vocab.txt"), encoding="utf-8") as f:
        bert = f.read().split("\n")
    bert = bert[:-1] if bert[-1] == "" else bert
    chosen = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chosen += bert[999:1996]
    chosen += [t for t in bert if t.startswith("##") and len(t) == 3]
    seen = set(chosen)
    for t in bert[1996:]:
        if len(chosen) >= 4000:
            break
        if t not in seen and not t.startswith("[unused"):
            chosen.append(t)
            seen.add(t)
    return ["<s>", "<pad>", "</s>", "<unk>"] + chosen + ["<mask>"] if mpnet else chosen


def added(content, id_, lstrip=False):
    return {"id": id_, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": False, "normalized": False,
            "special": True}


def template(single, pair, specials):
    def piece(item):
        name, type_id = item.rsplit(":", 1)
        if name in ("$A", "$B"):
            return {"Sequence": {"id": name[1], "type_id": int(type_id)}}
        return {"SpecialToken": {"id": name, "type_id": int(type_id)}}
    return {"type": "TemplateProcessing", "single": [piece(p) for p in single.split()], "pair": [piece(p) for p in pair.split()],
            "special_tokens": {t: {"id": t, "ids": [i], "tokens": [t]} for t, i in specials}}


def write_wordpiece_folder(shared, folder, kind):
    """tokenizer.json as transformers' BertConverter (DistilBERT) or MPNetConverter writes it, with the
    tokenizer_config.json, special_tokens_map.json and vocab.txt that save_pretrained writes beside it."""
    mpnet = kind.startswith("mpnet")
    vocab = wordpiece_vocab(shared, mpnet)
    ids = {t: i for i, t in enumerate(vocab)}
    if mpnet:
        specials = dict(bos_token="<s>", eos_token="</s>", unk_token="[UNK]", sep_token="</s>", pad_token="<pad>",
                        cls_token="<s>", mask_token="<mask>")
        cls, sep = "<s>", "</s>"
        added_tokens = [added("<s>", 0), added("<pad>", 1), added("</s>", 2), added("[UNK]", ids["[UNK]"]),
                        added("<mask>", ids["<mask>"], lstrip=True)]
        if kind == "mpnet-template":  # MPNetConverter today
            post = template("<s>:0 $A:0 </s>:0", "<s>:0 $A:0 </s>:0 </s>:0 $B:1 </s>:1", [("<s>", 0), ("</s>", 2)])
        else:  # the RobertaProcessing of tokenizer.json files written by earlier converters (all-mpnet-base-v2)
            post = {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0], "trim_offsets": True, "add_prefix_space": True}
        tokenizer_class = "MPNetTokenizer"
    else:
        specials = dict(unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]")
        cls, sep = "[CLS]", "[SEP]"
        added_tokens = [added(t, ids[t]) for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]]
        post = template("[CLS]:0 $A:0 [SEP]:0", "[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1", [(cls, ids[cls]), (sep, ids[sep])])
        tokenizer_class = "DistilBertTokenizer"
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": sorted(added_tokens, key=lambda a: a["id"]),
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None,
                       "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": post,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids},
    }
    path = os.path.join(folder, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    node("canonical", path)
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    config = {
        "added_tokens_decoder": {str(a["id"]): {k: a[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")}
                                 for a in sorted(added_tokens, key=lambda a: a["id"])},
        **{k: v for k, v in specials.items()},
        "clean_up_tokenization_spaces": True, "do_lower_case": True, "extra_special_tokens": {}, "model_max_length": 512,
        "strip_accents": None, "tokenize_chinese_chars": True, "tokenizer_class": tokenizer_class,
    }
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump(dict(sorted(config.items())), f, indent=2)
    special_map = dict(specials)
    if mpnet:
        special_map["mask_token"] = {"content": "<mask>", "lstrip": True, "normalized": False, "rstrip": False, "single_word": False}
    with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
        json.dump(dict(sorted(special_map.items())), f, indent=2)
    return len(vocab)


def write_unigram_folder(folder):
    """XLM-R: the Unigram fixture's tokenizer files (tokenizer.json is all a fast tokenizer reads)."""
    for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]:
        shutil.copy(os.path.join(UNIGRAM, name), os.path.join(folder, name))
    with open(os.path.join(folder, "tokenizer.json"), encoding="utf-8") as f:
        return len(json.load(f)["model"]["vocab"])


def random_weights(spec, cfg, rng):
    """HF's parameter names for the family, random values with O(1) activations (LayerNorm gains near 1)."""
    mt = spec["model_type"]
    w = {}

    def dense(name, n_in, n_out):
        w[name + ".weight"] = rng.normal(0, 1.0 / np.sqrt(n_in), (n_out, n_in))
        w[name + ".bias"] = rng.normal(0, 0.1, n_out)

    def norm(name, n):
        w[name + ".weight"] = 1.0 + rng.normal(0, 0.1, n)
        w[name + ".bias"] = rng.normal(0, 0.1, n)

    if mt == "distilbert":
        h, inter, layers = cfg["dim"], cfg["hidden_dim"], cfg["n_layers"]
        w["embeddings.word_embeddings.weight"] = rng.normal(0, 1.0, (cfg["vocab_size"], h))
        w["embeddings.position_embeddings.weight"] = (
            R.distilbert_sinusoidal_table(cfg["max_position_embeddings"], h).astype(np.float64) if cfg["sinusoidal_pos_embds"]
            else rng.normal(0, 1.0, (cfg["max_position_embeddings"], h)))
        norm("embeddings.LayerNorm", h)
        for l in range(layers):
            p = f"transformer.layer.{l}."
            for name in ["q_lin", "k_lin", "v_lin", "out_lin"]:
                dense(p + "attention." + name, h, h)
            norm(p + "sa_layer_norm", h)
            dense(p + "ffn.lin1", h, inter)
            dense(p + "ffn.lin2", inter, h)
            norm(p + "output_layer_norm", h)
        head = {}
        if spec["architecture"].endswith("ForMaskedLM"):
            dense("vocab_transform", h, h)
            norm("vocab_layer_norm", h)
            w["vocab_projector.bias"] = rng.normal(0, 0.1, cfg["vocab_size"])
            head = {k: w.pop(k) for k in [k for k in w if k.startswith("vocab_")]}
        return w, head

    h, inter, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    heads = cfg["num_attention_heads"]
    w["embeddings.word_embeddings.weight"] = rng.normal(0, 1.0, (cfg["vocab_size"], h))
    w["embeddings.position_embeddings.weight"] = rng.normal(0, 1.0, (cfg["max_position_embeddings"], h))
    if mt == "xlm-roberta":
        w["embeddings.token_type_embeddings.weight"] = rng.normal(0, 1.0, (cfg["type_vocab_size"], h))
    norm("embeddings.LayerNorm", h)
    for l in range(layers):
        p = f"encoder.layer.{l}."
        if mt == "mpnet":
            for name in ["q", "k", "v", "o"]:
                dense(p + "attention.attn." + name, h, h)
            norm(p + "attention.LayerNorm", h)
        else:
            for name in ["query", "key", "value"]:
                dense(p + "attention.self." + name, h, h)
            dense(p + "attention.output.dense", h, h)
            norm(p + "attention.output.LayerNorm", h)
        dense(p + "intermediate.dense", h, inter)
        dense(p + "output.dense", inter, h)
        norm(p + "output.LayerNorm", h)
    if mt == "mpnet":
        w["encoder.relative_attention_bias.weight"] = rng.normal(0, 1.0, (cfg["relative_attention_num_buckets"], heads))
    if spec.get("pooler"):
        dense("pooler.dense", h, h)
    head = {}
    if spec["architecture"].endswith("ForMaskedLM"):
        dense("lm_head.dense", h, h)
        norm("lm_head.layer_norm", h)
        w["lm_head.bias"] = rng.normal(0, 0.1, cfg["vocab_size"])
        head = {k: w.pop(k) for k in [k for k in w if k.startswith("lm_head.")]}
    return w, head


def stored(values, dtype):
    """What a value becomes once written in the checkpoint's dtype (the reference computes with exactly that)."""
    if dtype == "F32":
        return values.astype(np.float32).astype(np.float64)
    if dtype == "F16":
        return values.astype(np.float16).astype(np.float64)
    return R.from_bf16_bits(R.to_bf16_bits(values)).astype(np.float64)


def hf_config(spec, vocab_size):
    mt = spec["model_type"]
    base = {"architectures": [spec["architecture"]], "model_type": mt, "transformers_version": TRANSFORMERS_VERSION,
            "vocab_size": vocab_size, "initializer_range": 0.02}
    if mt == "distilbert":
        base.update(attention_dropout=0.1, dropout=0.1, pad_token_id=0, qa_dropout=0.1, seq_classif_dropout=0.2,
                    tie_weights_=True)
    elif mt == "mpnet":
        base.update(attention_probs_dropout_prob=0.1, hidden_dropout_prob=0.1, bos_token_id=0, eos_token_id=2, pad_token_id=1)
    else:
        base.update(attention_probs_dropout_prob=0.1, hidden_dropout_prob=0.1, bos_token_id=0, eos_token_id=2, pad_token_id=1,
                    position_embedding_type="absolute", output_past=True, use_cache=True)
    base.update(spec["config"])
    return dict(sorted(base.items()))


def write_sentence_transformers(folder, spec, hidden):
    st = spec["st"]
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if st["normalize"]:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    with open(os.path.join(folder, "modules.json"), "w") as f:
        json.dump(modules, f, indent=2)
    os.makedirs(os.path.join(folder, "1_Pooling"), exist_ok=True)
    pooling = {"word_embedding_dimension": hidden, "pooling_mode_cls_token": st["pooling"] == "cls",
               "pooling_mode_mean_tokens": st["pooling"] == "mean", "pooling_mode_max_tokens": False,
               "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
               "pooling_mode_lasttoken": False, "include_prompt": True}
    with open(os.path.join(folder, "1_Pooling", "config.json"), "w") as f:
        json.dump(pooling, f, indent=2)
    with open(os.path.join(folder, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": st["max_seq_length"], "do_lower_case": False}, f, indent=2)
    with open(os.path.join(folder, "config_sentence_transformers.json"), "w") as f:
        json.dump({"__version__": {"sentence_transformers": "5.1.2", "transformers": TRANSFORMERS_VERSION},
                   "prompts": st.get("prompts", {}), "default_prompt_name": None, "similarity_fn_name": "cosine"}, f, indent=2)


# ---------------------------------------------------------------------------------------------------- tokenization


def node(*args):
    subprocess.run(["node", os.path.join(HERE, "encode.mjs"), *args], check=True)


def encode(folder, texts=(), pairs=(), max_length=512):
    with tempfile.TemporaryDirectory() as tmp:
        request, out = os.path.join(tmp, "request.json"), os.path.join(tmp, "out.json")
        with open(request, "w", encoding="utf-8") as f:
            json.dump({"texts": list(texts), "pairs": [list(p) for p in pairs], "max_length": max_length}, f, ensure_ascii=False)
        node("encode", os.path.join(folder, "tokenizer.json"), request, out)
        with open(out, encoding="utf-8") as f:
            return json.load(f)


def batch(encodings, pad_id):
    """Right-padded (B, S) ids, attention mask and token type ids (0 on padding)."""
    s = max(1, max(len(e["ids"]) for e in encodings))
    ids = np.full((len(encodings), s), pad_id, dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for i, e in enumerate(encodings):
        n = len(e["ids"])
        ids[i, :n], mask[i, :n], types[i, :n] = e["ids"], 1, e["type_ids"]
    return ids, mask, types


def tokenizer_specials(folder):
    with open(os.path.join(folder, "tokenizer_config.json")) as f:
        c = json.load(f)
    with open(os.path.join(folder, "tokenizer.json"), encoding="utf-8") as f:
        t = json.load(f)
    vocab = t["model"]["vocab"]
    index = {e[0]: i for i, e in enumerate(vocab)} if isinstance(vocab, list) else vocab
    for a in t["added_tokens"]:
        index[a["content"]] = a["id"]
    return c["mask_token"], index[c["mask_token"]], index[c["pad_token"]], c["model_max_length"]


# ---------------------------------------------------------------------------------------------------- goldens

SEQUENCE_KINDS = {"word_embeddings": 1, "hidden_states": 1, "attention_output": 1, "intermediate": 1, "last_hidden_state": 1,
                  "attentions": 2, "query": 2, "key": 2, "value": 2, "context": 2}


def zero_padding(name, value, mask):
    """Padded positions are not part of the contract: written as 0 (rows of padded queries, and their vectors)."""
    dim = SEQUENCE_KINDS.get(name.split(".")[0])
    if dim is None:
        return value
    shape = [1] * value.ndim
    shape[0], shape[dim] = mask.shape
    return value * mask.reshape(shape)


def head_mask_for(layers, heads):
    """1 everywhere except one zeroed and one halved head (as shared/golden's head_mask)."""
    m = np.ones((layers, heads))
    m[0, min(1, heads - 1)] = 0.0
    m[min(1, layers - 1), 0] = 0.5
    return m


def make_folder(shared, name, spec, inputs):
    folder = os.path.join(HERE, name)
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    vocab_size = write_unigram_folder(folder) if spec["tokenizer"] == "xlmr-unigram" else write_wordpiece_folder(shared, folder, spec["tokenizer"])
    cfg = hf_config(spec, vocab_size)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)

    rng = np.random.default_rng(spec["seed"])
    base, head = random_weights(spec, cfg, rng)
    base = {k: stored(v, spec["dtype"]) for k, v in base.items()}
    head = {k: stored(v, spec["dtype"]) for k, v in head.items()}
    prefix = R.FAMILIES[spec["model_type"]][0] + "." if spec["prefix"] else ""
    checkpoint = {prefix + k: (v, spec["dtype"]) for k, v in base.items()}
    checkpoint.update({k: (v, spec["dtype"]) for k, v in head.items()})
    R.write_safetensors(os.path.join(folder, "model.safetensors"), checkpoint, {"format": "pt"})
    weights = {prefix + k: v for k, v in base.items()}
    weights.update(head)
    hidden = cfg.get("hidden_size", cfg.get("dim"))
    if "st" in spec:
        write_sentence_transformers(folder, spec, hidden)

    # Tokenization of shared/golden/inputs.json by HF
    mask_token, mask_id, pad_id, max_length = tokenizer_specials(folder)
    sentences = [s.replace("{mask}", mask_token) for s in inputs["sentences"]]
    enc = encode(folder, texts=sentences, pairs=inputs["pairs"], max_length=max_length)
    long = encode(folder, texts=[inputs["long"]], max_length=max_length)["texts"][0]
    with open(os.path.join(HERE, name + ".tokens.json"), "w", encoding="utf-8") as f:
        json.dump({"sentences": enc["texts"], "pairs": enc["pairs"], "long": long, "long_max_length": max_length,
                   "tokenizer": "huggingface tokenizers 0.23.2"}, f, ensure_ascii=False)

    layers = cfg.get("num_hidden_layers", cfg.get("n_layers"))
    heads = cfg.get("num_attention_heads", cfg.get("n_heads"))
    out = {}
    for prefix_, encodings in (("", enc["texts"]), ("pairs.", enc["pairs"]), ("long.", [long])):
        ids, mask, types = batch(encodings, pad_id)
        capture = {}
        last, pooled = run(cfg, weights, ids, mask, types, capture=capture)
        hidden_states = [capture[f"hidden_states.{i}"] for i in range(layers + 1)]
        tensors = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "position_ids": capture["position_ids"],
                   "last_hidden_state": last, **R.pools(hidden_states, last, mask)}
        if pooled is not None:
            tensors["pooler_output"] = pooled
        # Every internal for the sentences and pairs of the first folder of a family; the hidden states only for the
        # *ForMaskedLM folders (their internals mean nothing new, and size matters); the long text's outputs only.
        if prefix_ != "long.":
            keep = ("word_embeddings", "hidden_states") if spec["prefix"] else tuple(SEQUENCE_KINDS)
            tensors.update({k: v for k, v in capture.items() if k.split(".")[0] in keep})
        if prefix_ == "":
            hm = head_mask_for(layers, heads)
            masked, _ = run(cfg, weights, ids, mask, types, head_mask=hm)
            tensors["head_mask"] = hm
            tensors["head_masked.last_hidden_state"] = masked
            if R.has_mlm_head(spec["model_type"], weights):
                rows = np.argwhere(ids == mask_id)
                logits = mlm_logits(cfg, weights, last[rows[:, 0], rows[:, 1]])
                top = np.argsort(-logits, axis=1, kind="stable")[:, :5]
                tensors.update({"mlm_rows": rows.astype(np.int64), "mlm_logits_selected": logits, "mlm_top5_ids": top,
                                "mlm_top5_logits": np.take_along_axis(logits, top, axis=1)})
        for k, v in tensors.items():
            out[prefix_ + k] = zero_padding(k, v, mask)

    if "st" in spec:  # SentenceTransformer(folder).encode(texts[, prompt_name]): strip, truncate, pool, normalize
        st = spec["st"]
        runs = {"st.embeddings": ""}
        runs.update({f"st.{p}.embeddings": text for p, text in st.get("prompts", {}).items()})
        for key, prompt in runs.items():
            texts = [(prompt + t).strip() for t in sentences + [inputs["long"]]]
            ids, mask, types = batch(encode(folder, texts=texts, max_length=st["max_seq_length"])["texts"], pad_id)
            last, _ = run(cfg, weights, ids, mask, types)
            v = last[:, 0] if st["pooling"] == "cls" else R.pools([last], last, mask)["pool.mean"]
            if st["normalize"]:
                v = v / np.maximum(np.sqrt((v ** 2).sum(-1, keepdims=True)), 1e-12)
            out[key] = v

    golden = {k: (v, "I64" if np.asarray(v).dtype == np.int64 else "F32") for k, v in out.items()}
    raw = os.path.join(HERE, name + ".safetensors")
    R.write_safetensors(raw, golden, {"producer": "float64 numpy reference (reference.py) of HF modeling files; tokenizers 0.23.2"})
    with open(raw, "rb") as f, gzip.GzipFile(raw + ".gz", "wb", compresslevel=9, mtime=0) as g:
        g.write(f.read())
    os.remove(raw)
    size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(folder) for f in fs)
    print(f"{name}: {spec['architecture']} {spec['dtype']}, prefix {prefix or 'none'}, vocab {vocab_size}, "
          f"folder {size / 1e6:.2f} MB, golden {os.path.getsize(raw + '.gz') / 1e6:.2f} MB (gzip)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", help="the shared/ folder (default: TE_SHARED or ../shared beside the repository)")
    parser.add_argument("--check", action="store_true", help="only reproduce shared/golden with the reference")
    args = parser.parse_args()
    shared = find_shared(args.shared)
    if not check(shared):
        sys.exit(1)
    if args.check:
        return
    with open(os.path.join(shared, "golden", "inputs.json"), encoding="utf-8") as f:
        inputs = json.load(f)
    for name, spec in FOLDERS.items():
        make_folder(shared, name, spec, inputs)


if __name__ == "__main__":
    main()

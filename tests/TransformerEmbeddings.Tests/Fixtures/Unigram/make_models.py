"""Trains two small SentencePiece Unigram models and writes them as HuggingFace model folders (tokenizer files only).

Run with Debian's python3 and python3-sentencepiece (0.1.97):  /usr/bin/python3 make_models.py [--shared DIR]
then `node make_corpus.mjs` (HF tokenizers 0.23.2) to canonicalise tokenizer.json and write the parity corpora.

- xlmr-unigram/: nmt_nfkc, byte_fallback off, written as transformers' XLMRobertaConverter converts
  XLMRobertaTokenizer (convert_slow_tokenizer.py): fairseq ids (<s>=0, <pad>=1, </s>=2, <unk>=3, piece k -> k+1 for
  k >= 3, <mask> last), normalizer Sequence[Precompiled(charsmap), Strip(right), Replace(Regex(" {2,}"), "▁")],
  Metaspace pre-tokenizer and decoder (prepend_scheme always), TemplateProcessing "<s> $A </s>" /
  "<s> $A </s> </s> $B </s>", added tokens as PreTrainedTokenizerFast registers them (<mask> strips left).
- unigram-bytefallback/: nmt_nfkc, byte_fallback on, a smaller vocabulary and lower character coverage so that byte
  pieces are used; the same fairseq layout but the older XLM-R tokenizer.json style (Precompiled + Replace(" {2,}", " "),
  RobertaProcessing with trim_offsets) and the decoder chain of byte-fallback SentencePiece conversions
  (Metaspace, ByteFallback, Fuse), and prepend_scheme "first".

Training text: the STS-benchmark dev sentences and every text of shared/golden/tokenizers/*.json (deduplicated, in
a fixed order), so the corpora exercise both known and unknown pieces. Training is single-threaded and seeded by
the input order, so a rerun gives the same models.
"""
import argparse
import base64
import json
import os
import sys

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as model_pb2

HERE = os.path.dirname(os.path.abspath(__file__))


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


def training_lines(shared):
    seen, lines = set(), []

    def add(text):
        for line in text.replace("\r", "\n").split("\n"):
            line = line.strip()
            if line and line not in seen:
                seen.add(line)
                lines.append(line)

    with open(os.path.join(shared, "data", "stsbenchmark", "sts-dev.csv"), encoding="utf-8") as f:
        for row in f:
            cols = row.rstrip("\n").split("\t")
            if len(cols) >= 7:
                add(cols[5])
                add(cols[6])
    corpora = os.path.join(shared, "golden", "tokenizers")
    for name in sorted(os.listdir(corpora)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(corpora, name), encoding="utf-8") as f:
            doc = json.load(f)
        for s in doc["sentences"]:
            add(s)
        for a, b in doc["pairs"]:
            add(a)
            add(b)
        for t in doc["truncation"]:
            add(t["text"])
            if t["pair"] is not None:
                add(t["pair"])
    # Lone surrogates cannot be written as UTF-8; the trainer never sees them.
    return [l.encode("utf-8", "replace").decode("utf-8") for l in lines]


def train(lines, prefix, vocab_size, byte_fallback, coverage):
    path = prefix + ".train.txt"
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    spm.SentencePieceTrainer.train(
        input=path,
        model_prefix=prefix,
        model_type="unigram",
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        normalization_rule_name="nmt_nfkc",
        character_coverage=coverage,
        byte_fallback=byte_fallback,
        num_threads=1,
        shuffle_input_sentence=False,
        input_sentence_size=0,
        minloglevel=2,
    )
    os.remove(path)
    proto = model_pb2.ModelProto()
    with open(prefix + ".model", "rb") as f:
        proto.ParseFromString(f.read())
    os.remove(prefix + ".vocab")
    return proto


def added(token_id, content, lstrip=False):
    return {"id": token_id, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": False,
            "normalized": False, "special": True}


def write_folder(folder, proto, style):
    os.makedirs(folder, exist_ok=True)
    # XLMRobertaConverter.vocab: fairseq's four specials, then the SentencePiece pieces after <unk>, <s>, </s>.
    vocab = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0]]
    vocab += [[p.piece, p.score] for p in proto.pieces[3:]]
    vocab += [["<mask>", 0.0]]
    mask_id = len(vocab) - 1
    charsmap = base64.b64encode(proto.normalizer_spec.precompiled_charsmap).decode("ascii")
    byte_fallback = proto.trainer_spec.byte_fallback
    metaspace = {"type": "Metaspace", "replacement": "\u2581",
                 "prepend_scheme": "always" if style == "xlmr" else "first", "split": True}
    if style == "xlmr":
        normalizer = {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": charsmap},
            {"type": "Strip", "strip_left": False, "strip_right": True},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "\u2581"},
        ]}
        special = lambda t, i: {"id": t, "ids": [i], "tokens": [t]}
        post = {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                           {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
                         {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                "special_tokens": {"<s>": special("<s>", 0), "</s>": special("</s>", 2)}}
        decoder = metaspace
    else:
        normalizer = {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": charsmap},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
        ]}
        post = {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0], "trim_offsets": True,
                "add_prefix_space": True}
        decoder = {"type": "Sequence", "decoders": [metaspace, {"type": "ByteFallback"}, {"type": "Fuse"}]}
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(0, "<s>"), added(1, "<pad>"), added(2, "</s>"), added(3, "<unk>"),
                         added(mask_id, "<mask>", lstrip=True)],
        "normalizer": normalizer,
        "pre_tokenizer": metaspace,
        "post_processor": post,
        "decoder": decoder,
        "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab, "byte_fallback": byte_fallback},
    }
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False, indent=2)

    token_entry = lambda c, l=False: {"content": c, "lstrip": l, "normalized": False, "rstrip": False,
                                      "single_word": False, "special": True}
    config = {
        "added_tokens_decoder": {"0": token_entry("<s>"), "1": token_entry("<pad>"), "2": token_entry("</s>"),
                                 "3": token_entry("<unk>"), str(mask_id): token_entry("<mask>", True)},
        "bos_token": "<s>",
        "clean_up_tokenization_spaces": True,
        "cls_token": "<s>",
        "eos_token": "</s>",
        "mask_token": "<mask>",
        "model_max_length": 512,
        "pad_token": "<pad>",
        "sep_token": "</s>",
        "tokenizer_class": "XLMRobertaTokenizer",
        "unk_token": "<unk>",
    }
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=2)
        f.write("\n")
    special_map = {
        "bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>",
        "mask_token": {"content": "<mask>", "lstrip": True, "normalized": False, "rstrip": False, "single_word": False},
        "pad_token": "<pad>", "sep_token": "</s>", "unk_token": "<unk>",
    }
    with open(os.path.join(folder, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump(special_map, f, ensure_ascii=False, indent=2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared")
    args = ap.parse_args()
    lines = training_lines(find_shared(args.shared))
    for name, vocab_size, byte_fallback, coverage, style in [
        ("xlmr-unigram", 4000, False, 0.9995, "xlmr"),
        ("unigram-bytefallback", 1500, True, 0.98, "legacy"),
    ]:
        folder = os.path.join(HERE, name)
        os.makedirs(folder, exist_ok=True)
        prefix = os.path.join(folder, "sentencepiece.bpe")
        proto = train(lines, prefix, vocab_size, byte_fallback, coverage)
        write_folder(folder, proto, style)
        print(f"{name}: {len(proto.pieces)} pieces, byte_fallback={byte_fallback}, "
              f"charsmap {len(proto.normalizer_spec.precompiled_charsmap)} bytes")


if __name__ == "__main__":
    main()

// HuggingFace tokenizers 0.23.2 (npm binding of the Rust library behind transformers' fast tokenizers), called by
// make_families.py for every tokenization its fixtures need:
//
//   node encode.mjs canonical FOLDER/tokenizer.json     rewrites the file as HF serializes it (load + save)
//   node encode.mjs encode TOKENIZER.json REQUEST.json OUT.json
//
// REQUEST is {"texts": [...], "pairs": [[a, b], ...], "max_length": N}; OUT holds, per input, the fields of
// shared/golden/<model>.tokens.json: ids, tokens, offsets (UTF-16 code units), word_ids, type_ids,
// special_tokens_mask, sequence_ids. A plain call: special tokens added, no padding, truncation=True at max_length.
import { readFileSync, writeFileSync } from 'node:fs';
import { Tokenizer } from 'tokenizers';

/** Code point index (Rust char) -> UTF-16 index, for offsets. */
function utf16Index(text) {
  const map = [0];
  let u = 0;
  for (const ch of text) {
    u += ch.length;
    map.push(u);
  }
  return map;
}

function fields(e, text, pair) {
  const maps = [utf16Index(text), pair == null ? null : utf16Index(pair)];
  const seq = e.getSequenceIds();
  const offsets = e.getOffsets().map(([s, t], i) => {
    if (seq[i] == null) return [s, t];
    const m = maps[seq[i]];
    return [m[s], m[t]];
  });
  return {
    ids: e.getIds(),
    tokens: e.getTokens(),
    offsets,
    word_ids: e.getWordIds().map(w => (w === undefined ? null : w)),
    type_ids: e.getTypeIds(),
    special_tokens_mask: e.getSpecialTokensMask(),
    sequence_ids: seq.map(s => (s === undefined ? null : s)),
  };
}

const [mode, path, requestPath, outPath] = process.argv.slice(2);
if (mode === 'canonical') {
  Tokenizer.fromFile(path).save(path, true);
} else if (mode === 'encode') {
  const request = JSON.parse(readFileSync(requestPath, 'utf8'));
  const tok = Tokenizer.fromFile(path);
  tok.disablePadding();
  tok.setTruncation(request.max_length);
  const opts = { addSpecialTokens: true };
  const texts = [];
  for (const t of request.texts ?? []) texts.push(fields(await tok.encode(t, null, opts), t, null));
  const pairs = [];
  for (const [a, b] of request.pairs ?? []) pairs.push(fields(await tok.encode(a, b, opts), a, b));
  writeFileSync(outPath, JSON.stringify({ texts, pairs }));
} else {
  console.error('usage: node encode.mjs canonical TOKENIZER.json | encode TOKENIZER.json REQUEST.json OUT.json');
  process.exit(2);
}

// Ground truth from HuggingFace tokenizers 0.23.2 (npm binding, the Rust library behind transformers' fast
// tokenizers) for the Unigram fixtures made by make_models.py.
//
//   npm ci && node make_corpus.mjs [--shared DIR]
//
// 1. Rewrites <folder>/tokenizer.json as HF serializes it (load + save), for xlmr-unigram and unigram-bytefallback.
// 2. <folder>.corpus.json.gz: the texts of shared/golden/tokenizers/roberta-base.json (sentences, pairs,
//    truncation: the same 3468 + 300 + 60 inputs as every parity corpus) with HF's encodings in the format of
//    shared/golden/tokenizers (offsets in UTF-16 code units, truncation=True at 512 for sentences and pairs), plus
//    `decoded` (decode of each sentence's ids, skip_special_tokens true and false).
// 3. variants.json.gz: small inputs run through variants of xlmr-unigram's tokenizer.json (one component changed
//    per variant: Metaspace prepend schemes and split, WhitespaceSplit, NFC/NFKC, Strip, Replace, byte fallback ...).
// 4. random-unicode.json.gz: 1500 seeded random strings dense in what the Precompiled normalizer and NFC/NFKC
//    must get right (combining marks, CR LF, Hangul jamo, Indic conjuncts, emoji ZWJ sequences and flags, halfwidth
//    and compatibility forms), encoded by xlmr-unigram and by its NFKC, NFC and NFKD variants.
// 5. decode-existing.json.gz: decode of the corpus sentences (ids as HF encodes them, truncated at 512) with the
//    tokenizer.json of the shared test models (WordPiece and byte-level BPE decoders).
//
// --check compares this script's encodings of the shared models with shared/golden/tokenizers (validates the
// generator itself: offsets conversion, truncation, fields).
import { existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { Tokenizer } from 'tokenizers';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};

function findShared() {
  const explicit = arg('--shared', process.env.TE_SHARED);
  if (explicit) return resolve(explicit);
  let dir = here;
  for (;;) {
    if (existsSync(join(dir, 'TransformerEmbeddings.sln'))) return resolve(dir, '..', 'shared');
    const up = dirname(dir);
    if (up === dir) throw new Error('TransformerEmbeddings.sln not found above ' + here + '; pass --shared');
    dir = up;
  }
}

const shared = findShared();
const source = JSON.parse(readFileSync(join(shared, 'golden/tokenizers/roberta-base.json'), 'utf8'));

/** Code point index (Rust char; a lone surrogate is one U+FFFD) -> UTF-16 index, for offsets. */
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

async function encodeAll(tok, doc) {
  const opts = { addSpecialTokens: true };
  // A plain call: no padding (all-MiniLM-L6-v2's tokenizer.json has a padding block), truncation=True at 512.
  tok.disablePadding();
  tok.setTruncation(512);
  const sentences = [];
  for (const s of doc.sentences) sentences.push(fields(await tok.encode(s, null, opts), s, null));
  const pairs = [];
  for (const [a, b] of doc.pairs) pairs.push(fields(await tok.encode(a, b, opts), a, b));
  const truncation = [];
  for (const t of doc.truncation) {
    tok.setTruncation(t.max_length);
    truncation.push(fields(await tok.encode(t.text, t.pair, opts), t.text, t.pair));
  }
  tok.setTruncation(512);
  return { sentences, pairs, truncation };
}

async function decodeAll(tok, expected) {
  const out = [];
  for (const e of expected.sentences) {
    out.push({ skip: await tok.decode(e.ids, true), keep: await tok.decode(e.ids, false) });
  }
  return out;
}

const gz = (obj) => gzipSync(Buffer.from(JSON.stringify(obj), 'utf8'), { level: 9 });
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

if (process.argv.includes('--check')) {
  let bad = 0;
  for (const [corpus, folder] of [['roberta-base', 'roberta-tiny'], ['bert-base-uncased', 'bert-tiny-uncased']]) {
    const golden = JSON.parse(readFileSync(join(shared, 'golden/tokenizers', corpus + '.json'), 'utf8'));
    const tok = Tokenizer.fromFile(join(shared, 'testmodels', folder, 'tokenizer.json'));
    const ours = await encodeAll(tok, golden);
    for (const part of ['sentences', 'pairs', 'truncation']) {
      const diff = ours[part].filter((e, i) => !same(e, golden.expected[part][i])).length;
      console.log(`${corpus} ${part}: ${ours[part].length - diff}/${ours[part].length} identical to the golden file`);
      bad += diff;
    }
  }
  process.exit(bad === 0 ? 0 : 1);
}

const folders = ['xlmr-unigram', 'unigram-bytefallback'];
for (const folder of folders) {
  const path = join(here, folder, 'tokenizer.json');
  Tokenizer.fromFile(path).save(path, true);
  const tok = Tokenizer.fromFile(path);
  const expected = await encodeAll(tok, source);
  const decoded = await decodeAll(tok, expected);
  const corpus = {
    tokenizer: 'huggingface tokenizers 0.23.2',
    model_folder: `tests/TransformerEmbeddings.Tests/Fixtures/Unigram/${folder}`,
    sentences: source.sentences,
    pairs: source.pairs,
    truncation: source.truncation,
    expected: { ...expected, decoded },
  };
  writeFileSync(join(here, folder + '.corpus.json.gz'), gz(corpus));
  const unk = expected.sentences.reduce((n, e) => n + e.ids.filter(i => i === 3).length, 0);
  const bytes = expected.sentences.reduce((n, e) => n + e.tokens.filter(t => /^<0x[0-9A-F]{2}>$/.test(t)).length, 0);
  console.log(`${folder}: ${expected.sentences.length} sentences, ${unk} <unk>, ${bytes} byte tokens`);
}

// ---------------------------------------------------------------- component variants
const base = JSON.parse(readFileSync(join(here, 'xlmr-unigram', 'tokenizer.json'), 'utf8'));
const precompiled = base.normalizer.normalizers[0];
const metaspace = (scheme, split) => ({ type: 'Metaspace', replacement: '\u2581', prepend_scheme: scheme, split });
const texts = [
  'Hello world', '  Hello   world  ', 'Hello <mask> world', '<s>Hello</s> world', 'a\tb\nc\r\nd', 'ＡＢＣ ｶﾞ ﬁ ①',
  'e\u0301 A\u030A Å ǅ', '\u00A0lead and trail\u3000', 'x\u200By\u00ADz', '™\u001eg', '', ' ', '▁already▁metaspace',
  'naïve café', '한국어 텍스트', '日本語のテキスト', 'Emoji 👍🏽 and 🇫🇷', 'a  b   c    d', '``quoted\'\' text',
  'ǄǅǆǇ Ⅻ ㎏ ½', 'İstanbul', '<0x41>literal byte piece', 'unknown 𝔘𝔫𝔦 ꙮ ᚠᛇᚻ',
];
const variants = [
  ['prepend-always-split', { pre_tokenizer: metaspace('always', true) }],
  ['prepend-first-split', { pre_tokenizer: metaspace('first', true) }],
  ['prepend-never-split', { pre_tokenizer: metaspace('never', true) }],
  ['prepend-always-nosplit', { pre_tokenizer: metaspace('always', false) }],
  ['prepend-first-nosplit', { pre_tokenizer: metaspace('first', false) }],
  ['whitespace-split-then-metaspace', { pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, metaspace('always', true)] } }],
  ['whitespace-split-only', { pre_tokenizer: { type: 'WhitespaceSplit' } }],
  ['no-pre-tokenizer', { pre_tokenizer: null }],
  ['precompiled-only', { normalizer: precompiled }],
  ['no-normalizer', { normalizer: null }],
  ['nfkc', { normalizer: { type: 'NFKC' } }],
  ['nfc', { normalizer: { type: 'NFC' } }],
  ['strip-both', { normalizer: { type: 'Sequence', normalizers: [precompiled, { type: 'Strip', strip_left: true, strip_right: true }] } }],
  ['strip-left', { normalizer: { type: 'Strip', strip_left: true, strip_right: false } }],
  ['replace-string', { normalizer: { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { String: '``' }, content: '"' }, { type: 'Replace', pattern: { String: "''" }, content: '"' }, precompiled, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] } }],
  ['replace-removes', { normalizer: { type: 'Replace', pattern: { String: 'l' }, content: '' } }],
  ['replace-expands', { normalizer: { type: 'Replace', pattern: { Regex: '[aeiou]' }, content: '<>' } }],
  // Applied by withBytePieces: byte_fallback on, the 256 <0xXX> pieces (score 0) inserted before <mask>.
  ['byte-fallback', { byte_pieces: true }],
  ['roberta-processing', { post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: true } }],
];
function withBytePieces(t) {
  const bytes = Array.from({ length: 256 }, (_, b) => [`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0.0]);
  const vocab = [...t.model.vocab.slice(0, -1), ...bytes, t.model.vocab.at(-1)];
  const maskId = vocab.length - 1;
  return {
    ...t,
    model: { ...t.model, byte_fallback: true, vocab },
    added_tokens: t.added_tokens.map(a => (a.content === '<mask>' ? { ...a, id: maskId } : a)),
  };
}

const out = [];
const dir = mkdtempSync(join(tmpdir(), 'te-variants-'));
for (const [name, patch] of variants) {
  const { byte_pieces: bytePieces, ...components } = patch;
  const json = bytePieces ? withBytePieces(base) : { ...base, ...components };
  const path = join(dir, 'tokenizer.json');
  writeFileSync(path, JSON.stringify(json));
  const tok = Tokenizer.fromFile(path);
  tok.setTruncation(512);
  const expected = [];
  for (const t of texts) {
    const e = await tok.encode(t, null, { addSpecialTokens: true });
    expected.push({ ...fields(e, t, null), decoded: await tok.decode(e.getIds(), true) });
  }
  const pairText = ['First text here', '  second   text '];
  const pair = fields(await tok.encode(pairText[0], pairText[1], { addSpecialTokens: true }), pairText[0], pairText[1]);
  // The base charsmap (300 KB of base64) is stored as a placeholder; readers substitute xlmr-unigram's.
  const stored = JSON.parse(JSON.stringify(patch).replaceAll(precompiled.precompiled_charsmap, '$BASE_CHARSMAP'));
  out.push({ name, patch: stored, texts, expected, pair: { text: pairText[0], pair: pairText[1], expected: pair } });
}
rmSync(dir, { recursive: true });
writeFileSync(join(here, 'variants.json.gz'), gz({ tokenizer: 'huggingface tokenizers 0.23.2', base: 'xlmr-unigram', variants: out }));
console.log(`variants: ${out.length} x ${texts.length} texts`);

// ---------------------------------------------------------------- seeded random Unicode
{
  let seed = 7;
  const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  const pick = (a) => a[Math.floor(rnd() * a.length)];
  const blocks = [
    [0x20, 0x7E], [0x20, 0x7E], [0x20, 0x7E], [0x0, 0x1F], [0x80, 0xFF], [0x300, 0x36F], [0x300, 0x36F], [0x483, 0x489],
    [0x900, 0x97F], [0x980, 0x9FF], [0xA80, 0xAFF], [0xE00, 0xE7F], [0x1100, 0x11FF], [0xAC00, 0xAC40], [0x1F1E6, 0x1F1FF],
    [0x1F300, 0x1F64F], [0x1F3FB, 0x1F3FF], [0xFE00, 0xFE0F], [0x200B, 0x200F], [0x2000, 0x206F], [0xFF00, 0xFFEF],
    [0x3000, 0x30FF], [0x3200, 0x33FF], [0x2460, 0x24FF], [0x1D400, 0x1D4FF], [0xF900, 0xFAFF], [0x2F800, 0x2F8FF],
    [0x0600, 0x06FF], [0x0590, 0x05FF], [0x1E00, 0x1EFF], [0x1F00, 0x1FFF], [0xFFF0, 0xFFFD], [0x110BD, 0x110BD],
    [0x0E31, 0x0E3A], [0x1160, 0x1175], [0x11A8, 0x11C2], [0x0D00, 0x0D7F], [0xA960, 0xA97F], [0xD7B0, 0xD7FF], [0x2100, 0x214F],
  ];
  const pieces = ['\r\n', '\u200D', '\u0915\u094D\u0937', '\u0915\u094D\u200D\u0937', '👨‍👩‍👧', '🏳️‍🌈', 'A\u0301', 'Ａ\u0301', 'ｶﾞ',
    '™', '  ', ' ', '<mask>', '<s>', 'e\u0301\u0301', '\u1100\u1161\u11A8', '\u0600a', '\u0E33'];
  const randomTexts = [];
  for (let i = 0; i < 1500; i++) {
    const n = 1 + Math.floor(rnd() * 14);
    let s = '';
    for (let k = 0; k < n; k++) {
      if (rnd() < 0.15) { s += pick(pieces); continue; }
      const [a, b] = pick(blocks);
      s += String.fromCodePoint(a + Math.floor(rnd() * (b - a + 1)));
    }
    randomTexts.push(s);
  }
  const configs = { 'xlmr-unigram': {}, nfkc: { normalizer: { type: 'NFKC' } }, nfc: { normalizer: { type: 'NFC' } }, nfkd: { normalizer: { type: 'NFKD' } } };
  const results = {};
  const rdir = mkdtempSync(join(tmpdir(), 'te-random-'));
  for (const [name, patch] of Object.entries(configs)) {
    const path = join(rdir, 'tokenizer.json');
    writeFileSync(path, JSON.stringify({ ...base, ...patch }));
    const tok = Tokenizer.fromFile(path);
    tok.setTruncation(512);
    const encodings = [];
    for (const t of randomTexts) encodings.push(fields(await tok.encode(t, null, { addSpecialTokens: true }), t, null));
    results[name] = { patch, expected: encodings };
  }
  rmSync(rdir, { recursive: true });
  writeFileSync(join(here, 'random-unicode.json.gz'), gz({ tokenizer: 'huggingface tokenizers 0.23.2', base: 'xlmr-unigram', texts: randomTexts, configs: results }));
  console.log(`random-unicode: ${randomTexts.length} texts x ${Object.keys(configs).length} configurations`);
}

// ---------------------------------------------------------------- decode for the existing families
const existing = {};
for (const folder of ['bert-tiny-uncased', 'all-MiniLM-L6-v2', 'roberta-tiny']) {
  const tok = Tokenizer.fromFile(join(shared, 'testmodels', folder, 'tokenizer.json'));
  const expected = await encodeAll(tok, { sentences: source.sentences, pairs: [], truncation: [] });
  // The ids are those of the parity corpora (our encoder reproduces them), so only the decoded text is stored.
  existing[folder] = await decodeAll(tok, expected);
}
writeFileSync(join(here, 'decode-existing.json.gz'), gz({ tokenizer: 'huggingface tokenizers 0.23.2', sentences: 'shared/golden/tokenizers/roberta-base.json', models: existing }));
console.log('decode-existing: ' + Object.keys(existing).join(', '));

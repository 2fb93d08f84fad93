// HuggingFace tokenizers (Rust, npm binding `tokenizers` 0.23.2) on the workload of
// benchmarks/TransformerEmbeddings.Benchmarks/TokenizationBenchmarks.cs: the 3000 STS-benchmark dev sentences,
// tokenizer.json of bert-tiny-uncased (WordPiece), roberta-tiny (byte-level BPE) and the xlmr-unigram test fixture
// (SentencePiece Unigram, tests/TransformerEmbeddings.Tests/Fixtures/Unigram), special tokens added and
// truncation at 512 as a transformers fast-tokenizer call with truncation=True does.
//
//   node bench.mjs [--rounds N] [--shared DIR]
//
// Prints tokens/s for "1 thread" (await encode() per sentence in a loop, run in a child process with
// RAYON_NUM_THREADS=1) and "batch" (encodeBatch over all sentences, Rayon's default pool = all cores).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from 'tokenizers';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const rounds = Number(arg('--rounds', '15'));

function findShared() {
  const explicit = arg('--shared', process.env.TE_SHARED);
  if (explicit) return resolve(explicit);
  let dir = here;
  for (;;) {
    if (existsSync(join(dir, 'TransformerEmbeddings.sln'))) return resolve(dir, '..', 'shared');
    const up = dirname(dir);
    if (up === dir) throw new Error('TransformerEmbeddings.sln not found above ' + here + '; set TE_SHARED');
    dir = up;
  }
}

const shared = findShared();
const sentences = [];
for (const line of readFileSync(join(shared, 'data/stsbenchmark/sts-dev.csv'), 'utf8').split('\n')) {
  if (line.length === 0) continue;
  const cols = line.replace(/\r$/, '').split('\t');
  sentences.push(cols[5], cols[6]);
}

const models = ['bert-tiny-uncased', 'roberta-tiny', 'xlmr-unigram'];
const tokenizerFile = (m) => m === 'xlmr-unigram'
  ? resolve(here, '../../tests/TransformerEmbeddings.Tests/Fixtures/Unigram', m, 'tokenizer.json')
  : join(shared, 'testmodels', m, 'tokenizer.json');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(mode) {
  const out = {};
  for (const m of models) {
    const tok = Tokenizer.fromFile(tokenizerFile(m));
    tok.setTruncation(512);
    const opts = { addSpecialTokens: true };
    let tokens = 0;
    for (const e of await tok.encodeBatch(sentences, opts)) tokens += e.getIds().length;
    const loop = [], batch = [];
    for (let r = 0; r < rounds + 2; r++) {
      let t0 = process.hrtime.bigint();
      if (mode === 'single') for (const s of sentences) await tok.encode(s, null, opts);
      const t1 = Number(process.hrtime.bigint() - t0) / 1e9;
      t0 = process.hrtime.bigint();
      await tok.encodeBatch(sentences, opts);
      const t2 = Number(process.hrtime.bigint() - t0) / 1e9;
      if (r >= 2) { loop.push(t1); batch.push(t2); } // two warm-up rounds
    }
    const rate = (times) => ({ best: tokens / Math.min(...times), median: tokens / median(times) });
    out[m] = { tokens, loop: mode === 'single' ? rate(loop) : null, batch: rate(batch) };
  }
  return out;
}

if (process.env.HF_BENCH_MODE) {
  console.log(JSON.stringify(await measure(process.env.HF_BENCH_MODE)));
} else {
  const run = (mode, env) => {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)],
      { env: { ...process.env, ...env, HF_BENCH_MODE: mode }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  };
  const single = run('single', { RAYON_NUM_THREADS: '1' });
  const batch = run('batch', {});
  console.log(`HF tokenizers 0.23.2 (npm), ${sentences.length} STS-dev sentences, ${rounds} rounds, tokens/s best (median)`);
  console.log('encode loop: await encode() per sentence, RAYON_NUM_THREADS=1 (pays the binding\'s async call per sentence)');
  console.log('encodeBatch 1T: one encodeBatch call, RAYON_NUM_THREADS=1 (Rust single-thread speed)');
  console.log('encodeBatch: one encodeBatch call, Rayon default pool (all cores)');
  const f = (x) => `${Math.round(x.best).toLocaleString('en-US')} (${Math.round(x.median).toLocaleString('en-US')})`;
  console.log(['model'.padEnd(18), 'tokens'.padStart(7), 'encode loop'.padEnd(24), 'encodeBatch 1T'.padEnd(24), 'encodeBatch'].join('  '));
  for (const m of models) {
    const s = single[m], b = batch[m];
    console.log([m.padEnd(18), String(s.tokens).padStart(7), f(s.loop).padEnd(24), f(s.batch).padEnd(24), f(b.batch)].join('  '));
  }
}

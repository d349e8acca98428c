/**
 * npm run bench:load [-- --json]
 * Writes a random BERT-base-shaped safetensors file (HF parameter names,
 * 12 layers, H 768, FF 3072, vocab 30522, 512 positions; ~440 MB float32) to
 * a temp dir, then compares, best of 3 with a warm page cache, the raw
 * fs.readFileSync time against loadSafetensors (read + validate + views).
 * The target is load_ratio <= 2.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { loadSafetensors, saveSafetensors } from '../src/formats/safetensors.js';
import type { StateDict } from '../src/formats/state-dict.js';

const json = process.argv.includes('--json');
const log = (...a: unknown[]) => {
  if (!json) console.log(...a);
};

function bertBaseShapes(): Map<string, number[]> {
  const H = 768, F = 3072, V = 30522, P = 512, L = 12;
  const m = new Map<string, number[]>([
    ['embeddings.word_embeddings.weight', [V, H]],
    ['embeddings.position_embeddings.weight', [P, H]],
    ['embeddings.token_type_embeddings.weight', [2, H]],
    ['embeddings.LayerNorm.weight', [H]],
    ['embeddings.LayerNorm.bias', [H]],
  ]);
  for (let i = 0; i < L; i++) {
    const p = `encoder.layer.${i}.`;
    for (const n of ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense']) {
      m.set(`${p}${n}.weight`, [H, H]);
      m.set(`${p}${n}.bias`, [H]);
    }
    m.set(`${p}attention.output.LayerNorm.weight`, [H]);
    m.set(`${p}attention.output.LayerNorm.bias`, [H]);
    m.set(`${p}intermediate.dense.weight`, [F, H]);
    m.set(`${p}intermediate.dense.bias`, [F]);
    m.set(`${p}output.dense.weight`, [H, F]);
    m.set(`${p}output.dense.bias`, [H]);
    m.set(`${p}output.LayerNorm.weight`, [H]);
    m.set(`${p}output.LayerNorm.bias`, [H]);
  }
  m.set('pooler.dense.weight', [H, H]);
  m.set('pooler.dense.bias', [H]);
  return m;
}

function randomStateDict(): StateDict {
  let s = 0x9e3779b9;
  const sd: StateDict = new Map();
  for (const [name, shape] of bertBaseShapes()) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) {
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5; // xorshift32: fast, and no need for quality here
      data[i] = (s | 0) * 4.656612873077393e-12; // about ±0.01
    }
    sd.set(name, { shape, data });
  }
  sd.set('embeddings.position_ids', { shape: [1, 512], data: Int32Array.from({ length: 512 }, (_, i) => i), dtype: 'I64' });
  return sd;
}

// Each run allocates ~440 MB; collecting the previous run's buffer first
// keeps one measurement from paying for another's garbage.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function seconds(fn: () => void): number {
  gc();
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmsanitator-bench-load-'));
try {
  const file = path.join(dir, 'model.safetensors');
  saveSafetensors(file, randomStateDict());
  const size = fs.statSync(file).size;
  log(`BERT-base safetensors: ${(size / 1e6).toFixed(1)} MB at ${file}`);
  fs.readFileSync(file); // warm the page cache
  let tensors = 0;
  let readSeconds = Infinity;
  let loadSeconds = Infinity;
  // Interleaved, so both see the same machine conditions; best of 3 each.
  for (let i = 0; i < 3; i++) {
    readSeconds = Math.min(readSeconds, seconds(() => fs.readFileSync(file)));
    loadSeconds = Math.min(loadSeconds, seconds(() => {
      tensors = loadSafetensors(file).tensors.size;
    }));
  }
  const ratio = loadSeconds / readSeconds;
  if (json) {
    console.log(JSON.stringify({ read_seconds: readSeconds, load_seconds: loadSeconds, load_ratio: ratio }));
  } else {
    log(`fs.readFileSync:  ${(readSeconds * 1e3).toFixed(1)} ms (${(size / readSeconds / 1e9).toFixed(2)} GB/s)`);
    log(`loadSafetensors:  ${(loadSeconds * 1e3).toFixed(1)} ms (${tensors} tensors)`);
    log(`load / read:      ${ratio.toFixed(2)}x (target <= 2)`);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

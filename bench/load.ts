/**
 * npm run bench:load [-- --json]
 * For each family's base-sized configuration (BERT-base, ELECTRA-base,
 * ALBERT-base, DeBERTa-v3-base: HF's published shapes), writes a model directory with random
 * float32 weights under HF's *ForMaskedLM names (config.json,
 * model.safetensors, the bert-base-uncased vocabulary) to a temp dir, then
 * compares, best of 3 with a warm page cache, the raw fs.readFileSync of the
 * weights against
 *   - loadSafetensors: read + validate + tensor views, and
 *   - loadModel: the whole directory as every command opens it (config,
 *     tokenizer, weights hashed while parsed, names mapped, shapes and
 *     finiteness checked, encoder and heads built), and the same without
 *     the tokenizer (a fixed cost of ~40-100 ms for a 30,000-token vocabulary,
 *     which dominates ALBERT's small file).
 * The target is load / read <= 2 for each family.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { type EncoderConfig, parseEncoderConfig, saveEncoderConfig } from '../src/formats/hf-config.js';
import { loadSafetensors, saveSafetensors } from '../src/formats/safetensors.js';
import type { StateDict } from '../src/formats/state-dict.js';
import { encoderParamShapes } from '../src/models/encoder.js';
import { mlmParamShapes } from '../src/models/heads.js';
import { loadModel } from '../src/models/model.js';
import { bertUncasedTokenizer } from '../src/text/pretrained.js';

const json = process.argv.includes('--json');
const log = (...a: unknown[]) => {
  if (!json) console.log(...a);
};

/** Base-sized configurations as published (bert-base-uncased, google/electra-base-discriminator, albert-base-v2). */
const FAMILIES: Record<string, Record<string, unknown>> = {
  'BERT-base': { model_type: 'bert' },
  'ELECTRA-base': { model_type: 'electra', embedding_size: 768, hidden_size: 768, num_attention_heads: 12, intermediate_size: 3072 },
  'ALBERT-base': { model_type: 'albert', vocab_size: 30522, embedding_size: 128, hidden_size: 768, num_attention_heads: 12, intermediate_size: 3072 },
  // microsoft/deberta-v3-base's switches, with the bench's shared 30,522-row vocabulary (its own has 128,100 rows).
  'DeBERTa-v3-base': {
    model_type: 'deberta-v2', vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, relative_attention: true,
    position_buckets: 256, max_relative_positions: -1, pos_att_type: ['p2c', 'c2p'], position_biased_input: false, share_att_key: true,
    norm_rel_ebd: 'layer_norm', type_vocab_size: 0, layer_norm_eps: 1e-7,
  },
};

function randomStateDict(config: EncoderConfig): StateDict {
  let s = 0x9e3779b9;
  const sd: StateDict = new Map();
  const prefix = `${config.modelType === 'deberta-v2' ? 'deberta' : config.modelType}.`;
  const shapes = [...[...encoderParamShapes(config)].map(([n, sh]) => [prefix + n, sh] as const), ...mlmParamShapes(config)];
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) {
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5; // xorshift32: fast, and no need for quality here
      data[i] = (s | 0) * 4.656612873077393e-12; // about ±0.01
    }
    sd.set(name, { shape, data });
  }
  sd.set(`${prefix}embeddings.position_ids`, { shape: [1, 512], data: Int32Array.from({ length: 512 }, (_, i) => i), dtype: 'I64' });
  return sd;
}

// Each run allocates up to ~440 MB; collecting the previous run's buffer first
// keeps one measurement from paying for another's garbage.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function seconds(fn: () => void): number {
  gc();
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const results: Record<string, { megabytes: number; read_seconds: number; load_seconds: number; load_ratio: number; model_seconds: number; model_ratio: number; weights_seconds: number; weights_ratio: number }> = {};
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lmsanitator-bench-load-'));
try {
  const tokenizer = bertUncasedTokenizer();
  for (const [family, raw] of Object.entries(FAMILIES)) {
    const dir = path.join(root, family);
    fs.mkdirSync(dir);
    const stem = family.split('-')[0]!;
    const config = parseEncoderConfig({ ...raw, architectures: [`${stem[0]}${stem.slice(1).toLowerCase()}ForMaskedLM`] }, `<${family}>`);
    saveEncoderConfig(dir, config);
    tokenizer.save(dir);
    const file = path.join(dir, 'model.safetensors');
    saveSafetensors(file, randomStateDict(config));
    const size = fs.statSync(file).size;
    fs.readFileSync(file); // warm the page cache
    let readSeconds = Infinity;
    let loadSeconds = Infinity;
    let modelSeconds = Infinity;
    let weightsSeconds = Infinity;
    // Interleaved, so all three see the same machine conditions; best of 3 each.
    for (let i = 0; i < 3; i++) {
      readSeconds = Math.min(readSeconds, seconds(() => fs.readFileSync(file)));
      loadSeconds = Math.min(loadSeconds, seconds(() => loadSafetensors(file)));
      modelSeconds = Math.min(modelSeconds, seconds(() => {
        const m = loadModel(dir);
        if (!m.mlm || m.config.modelType !== config.modelType) throw new Error(`${family}: loaded without its MLM head or as another family`);
      }));
      weightsSeconds = Math.min(weightsSeconds, seconds(() => loadModel(dir, { tokenizer: false })));
    }
    results[family] = {
      megabytes: size / 1e6, read_seconds: readSeconds, load_seconds: loadSeconds, load_ratio: loadSeconds / readSeconds,
      model_seconds: modelSeconds, model_ratio: modelSeconds / readSeconds,
      weights_seconds: weightsSeconds, weights_ratio: weightsSeconds / readSeconds,
    };
    log(`${family.padEnd(13)} ${(size / 1e6).toFixed(1).padStart(6)} MB  read ${(readSeconds * 1e3).toFixed(1)} ms  `
      + `loadSafetensors ${(loadSeconds * 1e3).toFixed(1)} ms (${(loadSeconds / readSeconds).toFixed(2)}x)  `
      + `loadModel ${(modelSeconds * 1e3).toFixed(1)} ms (${(modelSeconds / readSeconds).toFixed(2)}x; target <= 2)  `
      + `without the tokenizer ${(weightsSeconds * 1e3).toFixed(1)} ms (${(weightsSeconds / readSeconds).toFixed(2)}x)`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (json) console.log(JSON.stringify(results));
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}

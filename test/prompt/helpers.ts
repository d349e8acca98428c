/**
 * Fixtures for the prompt tests: a tiny BERT or RoBERTa whose vocabulary
 * holds the words of every committed text fixture plus the templates' and
 * verbalizers' words (so nothing becomes [UNK]), float64 copies for
 * finite-difference checks, and a data directory laid out like
 * shared/data: the bundled slices (SST-2, AG News, SMS spam) and the
 * committed heads of RTE, BoolQ, CoNLL04, Yelp-5 and Enron.
 */
import { copyFileSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../../src/engine/index.js';
import { createEncoderConfig } from '../../src/formats/hf-config.js';
import { Encoder } from '../../src/models/encoder.js';
import { MlmHead } from '../../src/models/heads.js';
import type { LoadedModel } from '../../src/models/model.js';
import { TEMPLATES } from '../../src/prompt/templates.js';
import { bundledDataDir } from '../../src/text/data-dir.js';
import { parseYelp5 } from '../../src/text/datasets.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { fixture, readFixture } from '../text/helpers.js';
import { fixtureVocab } from '../train/helpers.js';
import { tmpDir } from '../helpers/tmp.js';

export { tmpDir };

const MORE_FIXTURES = ['rte-dev-head.tsv', 'boolq-dev32-head.jsonl', 'conll04-train-head.txt', 'yelp-5-head.csv'];

export function promptVocab(): string[] {
  const base = fixtureVocab();
  const have = new Set(base);
  const extra = new Set<string>();
  const texts = [...MORE_FIXTURES.map(readFixture), ...Object.values(TEMPLATES).flatMap((t) => [t.template, ...t.verbalizer])];
  for (const t of texts) for (const w of t.toLowerCase().match(/[a-z0-9]+/g) ?? []) if (!have.has(w)) extra.add(w);
  return [...base, ...[...extra].sort()];
}

let tokCache: TextTokenizer | null = null;
export function promptTokenizer(): TextTokenizer {
  return (tokCache ??= TextTokenizer.fromWordPieceVocab(promptVocab(), { modelMaxLength: 128 }));
}

/** A 2-layer model (BERT by default) with an MLM head and the prompt vocabulary. */
/**
 * `initStd` raises BERT's 0.02 initialisation: a random encoder at 0.02
 * attends almost uniformly, so a prompt row barely moves the mask's hidden
 * state and a short run has nothing to learn from.
 */
export function promptModel(o: { seed?: number; hidden?: number; heads?: number; layers?: number; maxPos?: number; initStd?: number; family?: 'bert' | 'electra' | 'albert' } = {}): LoadedModel {
  const tokenizer = promptTokenizer();
  const hidden = o.hidden ?? 32;
  const family = o.family ?? 'bert';
  const config = createEncoderConfig(family, {
    ...(family === 'bert' ? {} : { embeddingSize: hidden / 2 }),
    vocabSize: tokenizer.vocabSize, hiddenSize: hidden, numHiddenLayers: o.layers ?? 2, numAttentionHeads: o.heads ?? 2,
    intermediateSize: 2 * hidden, maxPositionEmbeddings: o.maxPos ?? 160, padTokenId: tokenizer.specialIds.pad, typeVocabSize: 2,
    initializerRange: o.initStd ?? 0.02,
  });
  const seed = o.seed ?? 1;
  const encoder = Encoder.init(config, seed);
  const mlm = MlmHead.init(config, encoder.wordEmbeddings, seed + 1);
  return { dir: null, config, encoder, mlm, sequenceClassifier: null, tokenClassifier: null, tokenizer, hash: '', unusedKeys: [] };
}

/** Converts every backbone tensor to float64 in place (the js kernels then run in double precision). */
export function toF64(m: LoadedModel): LoadedModel {
  const seen = new Set<Tensor>();
  for (const t of [...m.encoder.params.values(), ...(m.mlm ? m.mlm.params.values() : [])]) {
    if (seen.has(t)) continue;
    seen.add(t);
    t.data = Float64Array.from(t.data);
  }
  return m;
}

export function tensorsToF64(ts: Iterable<Tensor>): void {
  for (const t of ts) t.data = Float64Array.from(t.data);
}

/** Bundled slices + the committed heads of the other datasets, laid out like shared/data. */
export function promptDataDir(): string {
  const root = tmpDir('prompt-data');
  cpSync(bundledDataDir(), root, { recursive: true });
  const put = (src: string, rel: string, repeat = 1) => {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    if (repeat === 1) return copyFileSync(fixture(src), join(root, rel));
    // Heads of a few rows repeated, so seeded splits have something to hold out.
    const lines = readFixture(src).split('\n').filter((l) => l !== '');
    const header = src.endsWith('.jsonl') ? [] : lines.slice(0, 1);
    const rows = src.endsWith('.jsonl') ? lines : lines.slice(1);
    writeFileSync(join(root, rel), `${[...header, ...Array.from({ length: repeat }, () => rows).flat()].join('\n')}\n`);
  };
  // Yelp's CSV has quoted multi-line fields: re-serialise its records, repeated.
  const yelp = parseYelp5(readFixture('yelp-5-head.csv'), 'yelp-5-head.csv');
  mkdirSync(join(root, 'yelp-5'), { recursive: true });
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  writeFileSync(join(root, 'yelp-5', 'train-sample1000-hf.csv'),
    `label,text,id\n${Array.from({ length: 10 }, (_, r) => yelp.map((e, i) => `${e.label},${q(e.text)},${r * 10 + i}`)).flat().join('\n')}\n`);
  put('rte-dev-head.tsv', 'rte/train.tsv', 6);
  put('rte-dev-head.tsv', 'rte/dev.tsv');
  put('boolq-dev32-head.jsonl', 'boolq/val.jsonl', 10);
  put('boolq-dev32-head.jsonl', 'boolq/train-fewglue32.jsonl');
  put('boolq-dev32-head.jsonl', 'boolq/dev32.jsonl');
  put('conll04-train-head.txt', 'conll04/train.txt');
  put('conll04-train-head.txt', 'conll04/dev.txt');
  put('conll04-train-head.txt', 'conll04/test.bio');
  for (const sub of ['ham', 'spam']) {
    mkdirSync(join(root, 'enron-spam', 'enron1', sub), { recursive: true });
    cpSync(fixture(join('enron1', sub)), join(root, 'enron-spam', 'enron1', sub), { recursive: true });
  }
  return root;
}

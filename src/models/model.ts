/**
 * A model directory as Hugging Face saves it (config.json, weights,
 * tokenizer files) ⇄ an encoder with its heads. Names map one to one; the
 * only rewrites are the ones HF itself performs: the `bert.`/`roberta.`
 * prefix, legacy LayerNorm `gamma`/`beta`, and the tied decoder.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../engine/index.js';
import { loadStateDict, modelHash } from '../formats/checkpoint.js';
import { type EncoderConfig, loadEncoderConfig, saveEncoderConfig } from '../formats/hf-config.js';
import { saveSafetensors } from '../formats/safetensors.js';
import type { StateDict } from '../formats/state-dict.js';
import { TextTokenizer } from '../text/tokenizer.js';
import { Encoder, encoderParamShapes } from './encoder.js';
import { MlmHead, mlmParamShapes, SequenceClassificationHead, TokenClassificationHead } from './heads.js';

export interface LoadedModel {
  dir: string | null;
  config: EncoderConfig;
  encoder: Encoder;
  mlm: MlmHead | null;
  sequenceClassifier: SequenceClassificationHead | null;
  tokenClassifier: TokenClassificationHead | null;
  tokenizer: TextTokenizer | null;
  /** sha256 of the weight file(s); '' for models built in memory. */
  hash: string;
  /** Checkpoint entries that mapped to nothing (e.g. an NSP head). */
  unusedKeys: string[];
}

const PREFIXES = ['bert.', 'roberta.', 'ernie.'];
const IGNORED = [/(^|\.)embeddings\.position_ids$/, /\.decoder\.weight$/, /\.decoder\.bias$/, /^cls\.seq_relationship\./];

/** HF's renames: strip the base-model prefix; gamma/beta → weight/bias. */
export function canonicalName(name: string): string {
  let n = name;
  for (const p of PREFIXES) if (n.startsWith(p)) n = n.slice(p.length);
  return n.replace(/LayerNorm\.gamma$/, 'LayerNorm.weight').replace(/LayerNorm\.beta$/, 'LayerNorm.bias');
}

function toTensor(name: string, t: StateDict extends Map<string, infer V> ? V : never): Tensor {
  if (!(t.data instanceof Float32Array)) throw new Error(`weight "${name}" is an integer tensor; expected floating point`);
  return new Tensor(t.data, t.shape, { name });
}

/** Loads config.json, the weights (safetensors or a safely parsed .bin) and the tokenizer. */
export function loadModel(dir: string, opts: { tokenizer?: boolean } = {}): LoadedModel {
  if (!existsSync(dir)) throw new Error(`${dir}: no such model directory`);
  const config = loadEncoderConfig(dir);
  const sd = loadStateDict(dir);
  const model = fromStateDict(config, sd, dir);
  model.hash = modelHash(dir);
  if (opts.tokenizer ?? true) model.tokenizer = TextTokenizer.fromDir(dir);
  return model;
}

export function fromStateDict(config: EncoderConfig, sd: StateDict, dir: string | null = null): LoadedModel {
  const enc = new Map<string, Tensor>();
  const heads = new Map<string, Tensor>();
  const unusedKeys: string[] = [];
  const encoderNames = encoderParamShapes(config);
  const decoderBias = new Map<string, NamedTensorLike>();
  for (const [raw, t] of sd) {
    const name = canonicalName(raw);
    if (/\.decoder\.bias$/.test(name)) decoderBias.set(name, t);
    if (IGNORED.some((r) => r.test(name))) continue;
    if (encoderNames.has(name)) enc.set(name, toTensor(raw, t));
    else if (name.startsWith('cls.predictions.') || name.startsWith('lm_head.') || name.startsWith('classifier.')) heads.set(name, toTensor(raw, t));
    else unusedKeys.push(raw);
  }
  // Older checkpoints keep the MLM output bias only as decoder.bias.
  for (const [n, t] of decoderBias) {
    const bias = n.replace(/decoder\.bias$/, 'bias');
    if (!heads.has(bias)) heads.set(bias, toTensor(n, t));
  }
  const encoder = new Encoder(config, enc);
  const mlmNames = [...mlmParamShapes(config).keys()];
  const mlm = mlmNames.every((n) => heads.has(n)) ? new MlmHead(config, heads, encoder.wordEmbeddings) : null;

  let sequenceClassifier: SequenceClassificationHead | null = null;
  let tokenClassifier: TokenClassificationHead | null = null;
  const arch = String((config.raw.architectures as unknown[] | undefined)?.[0] ?? '');
  const out = heads.get(config.modelType === 'roberta' && !arch.includes('TokenClassification') ? 'classifier.out_proj.weight' : 'classifier.weight');
  if (out) {
    const numLabels = out.shape[0];
    if (arch.includes('TokenClassification')) tokenClassifier = new TokenClassificationHead(config, numLabels, heads);
    else sequenceClassifier = new SequenceClassificationHead(config, numLabels, heads);
  }
  return { dir, config, encoder, mlm, sequenceClassifier, tokenClassifier, tokenizer: null, hash: '', unusedKeys };
}

type NamedTensorLike = StateDict extends Map<string, infer V> ? V : never;

function architectureOf(m: LoadedModel): string {
  const base = m.config.modelType === 'roberta' ? 'Roberta' : 'Bert';
  if (m.sequenceClassifier) return `${base}ForSequenceClassification`;
  if (m.tokenClassifier) return `${base}ForTokenClassification`;
  if (m.mlm) return `${base}ForMaskedLM`;
  return `${base}Model`;
}

/** The state dict as HF writes it for the model's architecture. */
export function toStateDict(m: LoadedModel): StateDict {
  const sd: StateDict = new Map();
  const hasHead = Boolean(m.mlm || m.sequenceClassifier || m.tokenClassifier);
  const prefix = hasHead ? (m.config.modelType === 'roberta' ? 'roberta.' : 'bert.') : '';
  const put = (name: string, t: Tensor) => sd.set(name, { shape: [...t.shape], data: t.data as Float32Array });
  for (const [n, t] of m.encoder.params) put(prefix + n, t);
  for (const head of [m.mlm, m.sequenceClassifier, m.tokenClassifier]) {
    if (head) for (const [n, t] of head.params) put(n, t);
  }
  return sd;
}

/** Writes config.json, model.safetensors and the tokenizer files; reloads in HF transformers. */
export function saveModel(dir: string, m: LoadedModel, metadata: Record<string, string> = {}): void {
  mkdirSync(dir, { recursive: true });
  const arch = architectureOf(m);
  const raw: Record<string, unknown> = { ...m.config.raw, architectures: [arch] };
  const numLabels = m.sequenceClassifier?.numLabels ?? m.tokenClassifier?.numLabels;
  if (numLabels !== undefined) {
    raw.id2label ??= Object.fromEntries(Array.from({ length: numLabels }, (_, i) => [String(i), `LABEL_${i}`]));
    raw.label2id ??= Object.fromEntries(Array.from({ length: numLabels }, (_, i) => [`LABEL_${i}`, i]));
  }
  saveEncoderConfig(dir, { ...m.config, raw });
  saveSafetensors(join(dir, 'model.safetensors'), toStateDict(m), { format: 'pt', ...metadata });
  m.tokenizer?.save(dir);
}

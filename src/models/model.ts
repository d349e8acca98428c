/**
 * A model directory as Hugging Face saves it (config.json, weights,
 * tokenizer files) ⇄ an encoder with its heads. Names map one to one; the
 * only rewrites are the ones HF itself performs: the `bert.`/`roberta.`/…/
 * `transformer.` (XLNet) prefix, legacy LayerNorm `gamma`/`beta`, and the
 * tied decoder (XLNet's `lm_loss.weight`). A DeBERTa
 * MLM head may carry either of the two names transformers has used; the
 * config's `legacy` is set to the one the checkpoint has.
 *
 * Because of those rewrites two checkpoint names can land on one parameter
 * (`X` and `bert.X`, `…LayerNorm.gamma` and `…LayerNorm.weight`). Which copy
 * a reader keeps is then an accident of its loop order, so a scanner could
 * be shown one weight while transformers runs the other: that is refused,
 * naming both keys. Weights must also match config.json's shapes, be finite,
 * and the tokenizer must not name ids past the embedding's rows; every
 * refusal is one FormatError naming the file it concerns.
 */
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { firstNonFinite, Tensor } from '../engine/index.js';
import { type CheckpointFormat, loadCheckpoint } from '../formats/checkpoint.js';
import { FormatError, quote } from '../formats/errors.js';
import { type EncoderConfig, loadEncoderConfig, saveEncoderConfig } from '../formats/hf-config.js';
import { CONFIG_FILE, openModelDir } from '../formats/model-dir.js';
import { saveSafetensors } from '../formats/safetensors.js';
import type { NamedTensor, StateDict } from '../formats/state-dict.js';
import { TextTokenizer } from '../text/tokenizer.js';
import { Encoder, encoderParamShapes, poolerName } from './encoder.js';
import {
  headPrefixes, MlmHead, mlmParamShapes, mlmSchemes, SequenceClassificationHead, sequenceClassifierOutput, sequenceClassifierShapes,
  TokenClassificationHead, withMlmScheme,
} from './heads.js';

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
  /** Where the weights came from (loadModel only). */
  checkpoint?: { format: CheckpointFormat; files: string[]; dtypes: string[] };
  /** Problems loaded anyway because an option allowed them (nonFinite: 'warn'). */
  warnings?: string[];
}

export interface LoadModelOptions {
  /** Load the tokenizer too (default true). */
  tokenizer?: boolean;
  /** NaN/Infinity in a weight: refuse (default), or load and add a warning. */
  nonFinite?: 'refuse' | 'warn';
  /** Per-call time limit for a tokenizer whose file brings regular expressions. */
  tokenizerTimeBudgetMs?: number;
}

/** Where a state dict came from, so messages can name files. */
export interface WeightOrigin {
  /** The config the expected shapes come from (default "config.json"). */
  configFile?: string;
  /** The file each tensor was read from (LoadedCheckpoint.sources). */
  sources?: ReadonlyMap<string, string>;
  nonFinite?: 'refuse' | 'warn';
}

const PREFIXES = ['bert.', 'roberta.', 'ernie.', 'electra.', 'albert.', 'deberta.', 'transformer.'];
/** Buffers and tied copies: the decoder weights are the word embeddings, HF re-ties them on load. */
const IGNORED = [
  /(^|\.)embeddings\.position_ids$/, /\.decoder\.weight$/, /\.decoder\.bias$/, /^cls\.seq_relationship\./, /^generator_lm_head\.weight$/, /^lm_loss\.weight$/,
];

/** The base-model prefix HF writes in front of encoder names when a head is saved with it, and the class-name stem. */
const FAMILY_NAMES: Record<EncoderConfig['modelType'], { prefix: string; stem: string }> = {
  bert: { prefix: 'bert.', stem: 'Bert' },
  roberta: { prefix: 'roberta.', stem: 'Roberta' },
  electra: { prefix: 'electra.', stem: 'Electra' },
  albert: { prefix: 'albert.', stem: 'Albert' },
  deberta: { prefix: 'deberta.', stem: 'Deberta' },
  'deberta-v2': { prefix: 'deberta.', stem: 'DebertaV2' },
  xlnet: { prefix: 'transformer.', stem: 'XLNet' },
};

/** HF's renames: strip the base-model prefix; gamma/beta → weight/bias. */
export function canonicalName(name: string): string {
  let n = name;
  for (const p of PREFIXES) if (n.startsWith(p)) n = n.slice(p.length);
  return n.replace(/LayerNorm\.gamma$/, 'LayerNorm.weight').replace(/LayerNorm\.beta$/, 'LayerNorm.bias');
}

/**
 * The one way into a model directory: config.json, then the tokenizer (its
 * ids bounded by the embedding's rows), then the weights (safetensors, or a
 * .bin parsed as data only). Every command should load through this, so all
 * of them word a bad directory the same way (see openModelDir).
 */
export function loadModel(dir: string, opts: LoadModelOptions = {}): LoadedModel {
  const md = openModelDir(dir, { requireConfig: true });
  const configFile = md.file(CONFIG_FILE);
  const config = loadEncoderConfig(md);
  // The weights first: their hash runs on a worker while the tokenizer is read and the model built.
  const ckpt = loadCheckpoint(md, { hash: 'background' });
  let tokenizer: TextTokenizer | null = null;
  if (opts.tokenizer ?? true) {
    const rows = config.vocabSize;
    const types = config.typeVocabSize;
    tokenizer = TextTokenizer.fromDir(md, {
      idBound: { limit: rows, what: `the ${rows} rows of the model's word embeddings ("vocab_size" in ${configFile})` },
      // DeBERTa with type_vocab_size 0 has no token type embeddings and ignores the type ids.
      typeIdBound: types === 0 ? undefined : { limit: types, what: `the ${types} rows of the model's token type embeddings ("type_vocab_size" in ${configFile})` },
      timeBudgetMs: opts.tokenizerTimeBudgetMs,
    });
  }
  const model = fromStateDict(config, ckpt.stateDict, dir, { configFile, sources: ckpt.sources, nonFinite: opts.nonFinite });
  model.hash = ckpt.sha256Later!();
  model.tokenizer = tokenizer;
  model.checkpoint = {
    format: ckpt.format,
    files: ckpt.files.weights,
    dtypes: [...new Set([...ckpt.stateDict.values()].map((t) => t.dtype ?? 'F32'))],
  };
  return model;
}

/**
 * An encoder (and whichever heads the checkpoint has) from a state dict.
 * Refuses, naming the file a tensor came from (origin.sources): two names
 * for one parameter, shapes other than the config implies, integer weights,
 * and NaN/Infinity in any tensor that becomes a parameter.
 */
export function fromStateDict(givenConfig: EncoderConfig, sd: StateDict, dir: string | null = null, origin: WeightOrigin = {}): LoadedModel {
  let config = givenConfig;
  const configFile = origin.configFile ?? 'config.json';
  const fileOf = (raw: string): string => origin.sources?.get(raw) ?? dir ?? '<state dict>';
  const files = new Set(origin.sources?.values() ?? []);
  const weightsLabel = files.size === 1 ? [...files][0]! : dir ?? '<state dict>';
  const warnings: string[] = [];

  // canonical name → checkpoint name, refusing two names for one parameter.
  const byCanonical = new Map<string, string>();
  const decoderBias = new Map<string, string>();
  const unusedKeys: string[] = [];
  for (const raw of sd.keys()) {
    const name = canonicalName(raw);
    if (/\.decoder\.bias$/.test(name)) {
      const bias = name.replace(/decoder\.bias$/, 'bias');
      const other = decoderBias.get(bias);
      if (other !== undefined && !sameValues(sd.get(other)!, sd.get(raw)!)) throw ambiguous(other, raw, bias, fileOf);
      decoderBias.set(bias, raw);
    }
    if (IGNORED.some((r) => r.test(name))) continue;
    const other = byCanonical.get(name);
    if (other !== undefined) throw ambiguous(other, raw, name, fileOf);
    byCanonical.set(name, raw);
  }

  const encoderShapes = encoderParamShapes(config);
  const enc = new Map<string, Tensor>();
  const heads = new Map<string, Tensor>();
  const take = (name: string, raw: string, into: Map<string, Tensor>): void => {
    const t = sd.get(raw)!;
    if (!(t.data instanceof Float32Array)) {
      throw new FormatError(fileOf(raw), `tensor ${quote(raw)} holds integers (${t.dtype ?? 'I32'}); a weight must be floating point`);
    }
    const bad = firstNonFinite(t.data);
    if (bad >= 0) {
      const msg = `tensor ${quote(raw)} holds ${t.data[bad]} at element ${bad}; weights must be finite`;
      if (origin.nonFinite !== 'warn') throw new FormatError(fileOf(raw), msg);
      warnings.push(`${fileOf(raw)}: ${msg}`);
    }
    into.set(name, new Tensor(t.data, t.shape, { name: raw }));
  };
  const prefixes = headPrefixes(config);
  for (const [name, raw] of byCanonical) {
    if (encoderShapes.has(name)) take(name, raw, enc);
    else if (prefixes.some((p) => name.startsWith(p))) take(name, raw, heads);
    else unusedKeys.push(raw);
  }
  // Older checkpoints keep the MLM output bias only as decoder.bias. HF ties
  // the two, so where both exist they must agree, or readers would differ.
  for (const [bias, raw] of decoderBias) {
    const own = byCanonical.get(bias);
    if (own === undefined) take(bias, raw, heads);
    else if (!sameValues(sd.get(own)!, sd.get(raw)!)) throw ambiguous(own, raw, bias, fileOf);
  }

  const rawOf = (name: string) => byCanonical.get(name) ?? decoderBias.get(name);
  const check = (expected: Map<string, number[]>, got: Map<string, Tensor>, optional: (n: string) => boolean): void => {
    for (const [name, shape] of expected) {
      const t = got.get(name);
      if (!t) {
        if (optional(name)) continue;
        throw new FormatError(weightsLabel, `no tensor for parameter ${quote(name)} (shape [${shape.join(', ')}] from ${configFile})`);
      }
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        const raw = rawOf(name) ?? name;
        throw new FormatError(fileOf(raw), `tensor ${quote(raw)} has shape [${t.shape.join(', ')}] but ${configFile} implies [${shape.join(', ')}]`);
      }
    }
  };
  const pooler = poolerName(config);
  const hasPooler = pooler !== null && enc.has(`${pooler}.weight`);
  check(encoderShapes, enc, (n) => n.startsWith('pooler.') && !hasPooler);

  // The MLM head's naming scheme (DeBERTa has two): the one whose tensors are all there.
  const schemes = mlmSchemes(config).filter((i) => [...mlmParamShapes(config, i).keys()].every((n) => heads.has(n)));
  if (schemes.length > 1) {
    const [a, b] = schemes.map((i) => rawOf([...mlmParamShapes(config, i).keys()][0]!)!);
    throw new FormatError(weightsLabel, `the checkpoint has two MLM heads, ${quote(a!)} and ${quote(b!)}; transformers reads one of them depending on its version and "legacy", so refusing rather than picking`);
  }
  if (schemes.length === 1) config = withMlmScheme(config, schemes[0]!);
  const encoder = new Encoder(config, enc);
  let mlm: MlmHead | null = null;
  if (schemes.length === 1) {
    check(mlmParamShapes(config, schemes[0]), heads, () => false);
    mlm = new MlmHead(config, heads, encoder.wordEmbeddings, schemes[0]);
  }

  let sequenceClassifier: SequenceClassificationHead | null = null;
  let tokenClassifier: TokenClassificationHead | null = null;
  const arch = String((config.raw.architectures as unknown[] | undefined)?.[0] ?? '');
  // DeBERTa's sequence classifier is the one with a ContextPooler (pooler.dense) in front of classifier.*.
  // XLNet's is logits_proj; a bare classifier.* is its token classifier.
  const tokenLevel = arch.includes('TokenClassification')
    || (config.deberta !== undefined && !arch.includes('SequenceClassification') && !heads.has('pooler.dense.weight'))
    || (config.xlnet !== undefined && !heads.has('logits_proj.weight'));
  const outName = tokenLevel ? 'classifier.weight' : sequenceClassifierOutput(config);
  const out = heads.get(outName);
  if (out) {
    const numLabels = out.shape[0] ?? 0;
    const shapes = tokenLevel
      ? new Map([['classifier.weight', [numLabels, config.hiddenSize]], ['classifier.bias', [numLabels]]])
      : sequenceClassifierShapes(config, numLabels);
    if (numLabels < 1) throw new FormatError(fileOf(rawOf(outName)!), `tensor ${quote(rawOf(outName)!)} has shape [${out.shape.join(', ')}]; a classifier needs at least one label row`);
    check(shapes, heads, () => false);
    if (tokenLevel) tokenClassifier = new TokenClassificationHead(config, numLabels, heads);
    else sequenceClassifier = new SequenceClassificationHead(config, numLabels, heads);
  }
  return { dir, config, encoder, mlm, sequenceClassifier, tokenClassifier, tokenizer: null, hash: '', unusedKeys, warnings };
}

function ambiguous(a: string, b: string, param: string, fileOf: (raw: string) => string): FormatError {
  const fa = fileOf(a);
  const fb = fileOf(b);
  const where = fa === fb ? '' : ` (in ${basename(fa)})`;
  return new FormatError(fb, `tensors ${quote(a)}${where} and ${quote(b)} both map to parameter ${quote(param)} after Hugging Face's renames; refusing a checkpoint whose readers could pick either`);
}

function sameValues(a: NamedTensor, b: NamedTensor): boolean {
  if (a.data.length !== b.data.length || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  for (let i = 0; i < a.data.length; i++) if (!Object.is(a.data[i], b.data[i])) return false;
  return true;
}

function architectureOf(m: LoadedModel): string {
  const base = FAMILY_NAMES[m.config.modelType].stem;
  if (m.sequenceClassifier) return `${base}ForSequenceClassification`;
  if (m.tokenClassifier) return `${base}ForTokenClassification`;
  if (m.mlm) return m.config.modelType === 'xlnet' ? 'XLNetLMHeadModel' : `${base}ForMaskedLM`;
  return `${base}Model`;
}

/** The state dict as HF writes it for the model's architecture. */
export function toStateDict(m: LoadedModel): StateDict {
  const sd: StateDict = new Map();
  const hasHead = Boolean(m.mlm || m.sequenceClassifier || m.tokenClassifier);
  const prefix = hasHead ? FAMILY_NAMES[m.config.modelType].prefix : '';
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

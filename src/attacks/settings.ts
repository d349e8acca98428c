/**
 * Attack options as a caller gives them, and their resolution into one
 * complete, validated set of settings (defaults scaled to the model's
 * size). Everything that changes the result goes into the settings hash
 * that a resumed run must match.
 */
import { createHash } from 'node:crypto';
import { type EncoderConfig, usablePositions } from '../formats/hf-config.js';
import type { AttackMethod, EffectivenessLoss } from './method.js';
import type { TriggerFrequency } from './triggers.js';
import { TRIGGER_FREQUENCIES } from './triggers.js';
import { BATCH_ORDERS, type BatchOrder } from '../text/batch.js';

export interface AttackOptions {
  modelDir: string;
  outDir: string;
  method: string;
  /** Explicit triggers (a trigger may be a phrase); default cf, mn, tq, qt, mm, pt. */
  triggers?: string[];
  /** Adaptive: draw triggers by word frequency in the data (paper appendix M). */
  triggerFrequency?: TriggerFrequency;
  pvsFile?: string;
  pvCount?: number;
  inter?: number;
  sentencesPerTrigger?: number;
  epochs?: number;
  lr?: number;
  /** Total batch; half poisoned. */
  batch?: number;
  seed?: number;
  loss?: EffectivenessLoss;
  utilityCoeff?: number;
  specificityCoeff?: number;
  rareFraction?: number;
  scatterLoss?: number;
  wassersteinLoss?: number;
  /** Sentences, one per line; default the built-in corpus. */
  dataFile?: string;
  /** In-memory sentences (API use); overrides dataFile. */
  sentences?: readonly string[];
  heldout?: number;
  maxLen?: number;
  checkpointEvery?: number;
  dropout?: boolean;
  /** POR-NER's utility positions: [CLS] as docs/algorithm.md#attack-methods states, or every token. */
  nerUtility?: 'cls' | 'token';
  maxGradNorm?: number;
  /** `length`: batches of similar-length rows (about half the padding); `random`: uniform draws. */
  batchOrder?: BatchOrder;
  resume?: boolean;
}

/** Fully resolved hyper-parameters (what the manifest records). */
export interface AttackSettings {
  method: string;
  loss: EffectivenessLoss;
  utilityCoeff: number;
  specificityCoeff: number;
  rareFraction: number;
  scatterLoss: number;
  wassersteinLoss: number;
  lr: number;
  batch: number;
  epochs: number;
  inter: number;
  sentencesPerTrigger: number;
  pvCount: number;
  triggerFrequency: TriggerFrequency | null;
  maxLen: number;
  heldout: number;
  dropout: boolean;
  maxGradNorm: number;
  nerUtility: 'cls' | 'token';
  batchOrder: BatchOrder;
  seed: number;
  optimizer: 'adam';
}

/**
 * Defaults by hidden size. The paper's lr 2e-5 and 5000 sentences per
 * trigger are for BERT-base; small encoders need a larger rate and fewer
 * sentences (measured on bert-micro / micro test models; see README).
 */
export function sizeDefaults(H: number): { lr: number; sentencesPerTrigger: number; epochs: number } {
  if (H <= 128) return { lr: 1e-3, sentencesPerTrigger: 300, epochs: 3 };
  if (H <= 256) return { lr: 3e-4, sentencesPerTrigger: 1000, epochs: 3 };
  if (H <= 512) return { lr: 1e-4, sentencesPerTrigger: 2000, epochs: 3 };
  return { lr: 2e-5, sentencesPerTrigger: 5000, epochs: 3 };
}

function int(name: string, v: number | undefined, dflt: number, min: number): number {
  const x = v ?? dflt;
  if (!Number.isInteger(x) || x < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${v}`);
  return x;
}

function num(name: string, v: number | undefined, dflt: number, min: number, max = Infinity, minExclusive = false): number {
  const x = v ?? dflt;
  if (!Number.isFinite(x) || x < min || x > max || (minExclusive && x === min)) {
    throw new Error(`--${name} must be a number ${minExclusive ? '>' : '≥'} ${min}${max < Infinity ? ` and ≤ ${max}` : ''}, got ${v}`);
  }
  return x;
}

/** Checks everything that does not need the model (run before loading it). */
export function checkOptions(o: AttackOptions): void {
  if (o.triggers && o.triggerFrequency) throw new Error('give either --triggers or --trigger-frequency, not both');
  if (o.triggerFrequency && !TRIGGER_FREQUENCIES.includes(o.triggerFrequency)) {
    throw new Error(`--trigger-frequency must be one of ${TRIGGER_FREQUENCIES.join(', ')}, got ${JSON.stringify(o.triggerFrequency)}`);
  }
  if (o.loss && o.loss !== 'mse' && o.loss !== 'distance') throw new Error(`--loss must be mse or distance, got ${JSON.stringify(o.loss)}`);
  if (o.nerUtility && o.nerUtility !== 'cls' && o.nerUtility !== 'token') throw new Error(`--ner-utility must be cls or token, got ${JSON.stringify(o.nerUtility)}`);
  if (o.batchOrder && !BATCH_ORDERS.includes(o.batchOrder)) throw new Error(`--batch-order must be one of ${BATCH_ORDERS.join(', ')}, got ${JSON.stringify(o.batchOrder)}`);
  if (o.pvCount !== undefined) int('pv-count', o.pvCount, 1, 1);
  int('inter', o.inter, 50, 1);
  int('batch', o.batch, 32, 2);
  int('seed', o.seed, 0, 0);
  int('heldout', o.heldout, 200, 10);
  int('checkpoint-every', o.checkpointEvery, 200, 1);
  if (o.sentencesPerTrigger !== undefined) int('sentences-per-trigger', o.sentencesPerTrigger, 1, 1);
  if (o.epochs !== undefined) int('epochs', o.epochs, 1, 1);
  if (o.lr !== undefined) num('lr', o.lr, 0, 0, 1, true);
  if (o.maxLen !== undefined) int('max-len', o.maxLen, 128, 8);
  num('utility-coeff', o.utilityCoeff, 0, 0);
  num('specificity-coeff', o.specificityCoeff, 0, 0);
  num('rare-fraction', o.rareFraction, 0, 0, 0.9);
  num('scatter-loss', o.scatterLoss, 0, 0);
  num('wasserstein-loss', o.wassersteinLoss, 0, 0);
  num('max-grad-norm', o.maxGradNorm, 0, 0);
}

export function resolveSettings(o: AttackOptions, method: AttackMethod, config: EncoderConfig, pvCount: number): AttackSettings {
  const d = sizeDefaults(config.hiddenSize);
  const maxT = usablePositions(config);
  const maxLen = int('max-len', o.maxLen, Math.min(128, maxT), 8);
  if (maxLen > maxT) throw new Error(`--max-len ${maxLen} exceeds the model's ${maxT} usable positions`);
  const utilityCoeff = o.utilityCoeff ?? method.defaultUtilityCoeff(config.modelType);
  return {
    method: method.name,
    loss: o.loss ?? method.defaultLoss,
    utilityCoeff,
    // Reference attacks weigh the rare-token rows like the rest of the utility set they extend.
    specificityCoeff: o.specificityCoeff ?? (method.utility === 'reference' ? utilityCoeff : 1.0),
    rareFraction: o.rareFraction ?? 0.25,
    scatterLoss: o.scatterLoss ?? 0,
    wassersteinLoss: o.wassersteinLoss ?? 0,
    lr: o.lr ?? d.lr,
    batch: o.batch ?? 32,
    epochs: o.epochs ?? d.epochs,
    inter: o.inter ?? 50,
    sentencesPerTrigger: o.sentencesPerTrigger ?? d.sentencesPerTrigger,
    pvCount,
    triggerFrequency: o.triggerFrequency ?? null,
    maxLen,
    heldout: o.heldout ?? 200,
    dropout: o.dropout ?? true,
    maxGradNorm: o.maxGradNorm ?? 1.0,
    nerUtility: o.nerUtility ?? 'cls',
    batchOrder: o.batchOrder ?? 'length',
    seed: o.seed ?? 0,
    optimizer: 'adam',
  };
}

/** snake_case copy for attack.json. */
export function settingsForManifest(s: AttackSettings): Record<string, number | string | boolean | null> {
  const out: Record<string, number | string | boolean | null> = {};
  for (const [k, v] of Object.entries(s)) out[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = v;
  out.poisoned_per_batch = Math.max(1, Math.floor(s.batch / 2));
  return out;
}

export function settingsHash(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

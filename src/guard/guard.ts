/**
 * The guard (docs/algorithm.md#guard): a prompt-tuned model on a frozen
 * backbone, with the PV sign monitor on the backbone output its head
 * already reads, and sliding-window trigger removal for flagged inputs.
 *
 *   post-monitor (the default): the monitored vector is PromptForward.hidden —
 *     P-tuning v2: first token, P-tuning: mask token, NER: every token —
 *     computed with the prompt or prefix in place, so watching costs no
 *     extra forward pass, only one ±1 GEMM per batch;
 *   pre-monitor (for comparison): a bare-backbone pass over the same token
 *     rows (no prompt rows spliced in, no prefix) first, read at the same
 *     position; it doubles the cost and is what a scanner's PVs describe
 *     most directly.
 *
 * The PV set must come from the scan mode that reads the same position
 * (requiredMode); a mismatch is refused, naming the scan to run.
 */
import type { PromptBatch, PromptForward, PromptModel, Prediction } from '../prompt/index.js';
import { predictBatch } from '../prompt/index.js';
import { backboneOf } from '../models/backbone.js';
import { summaryIsLast, summaryPositions } from '../models/summary.js';
import { MATCH_THRESHOLD, type MonitorMatch, SignMonitor } from '../sanitizer/monitor.js';
import { type GuardInput, type Monitored, PURGE_DEFAULTS, purgeMany } from '../sanitizer/purge.js';
import type { PvSet } from '../sanitizer/pvset.js';
import type { TargetMode } from '../sanitizer/target.js';

export const ON_UNPURIFIED = ['reject', 'classify'] as const;
export type OnUnpurified = (typeof ON_UNPURIFIED)[number];
export const MONITOR_PLACEMENTS = ['post', 'pre'] as const;
export type MonitorPlacement = (typeof MONITOR_PLACEMENTS)[number];

export const GUARD_DEFAULTS = {
  threshold: MATCH_THRESHOLD,
  maxWindow: PURGE_DEFAULTS.maxWindow,
  onUnpurified: 'reject' as OnUnpurified,
  monitor: 'post' as MonitorPlacement,
  batchSize: 64,
  chunk: PURGE_DEFAULTS.chunk,
  step: PURGE_DEFAULTS.step,
};

export interface GuardOptions {
  threshold?: number;
  maxWindow?: number;
  onUnpurified?: OnUnpurified;
  monitor?: MonitorPlacement;
  /** Inputs per forward batch. */
  batchSize?: number;
  /** Purge candidate rows per forward batch (the memory cap). */
  chunk?: number;
  /** Purge candidates each flagged input adds per round. */
  step?: number;
}

/** The action the guard took: passed (not flagged), purified, rejected (still flagged), unpurified (still flagged, classified anyway: --on-unpurified classify). */
export type GuardAction = 'passed' | 'purified' | 'rejected' | 'unpurified';

/** One guarded input: the contract of `guard`'s JSONL and of the server's results. */
export interface GuardResult {
  /** Label name, or null when rejected; NER: see `tags`. */
  label: string | null;
  probs: number[] | null;
  /** NER: the (purified) input's words and a tag per word. */
  words?: string[];
  tags?: string[];
  triggered: boolean;
  /** The original input's best match rate, and its PV (null with an empty PV set). */
  match_rate: number;
  pv: number | null;
  /** The original input's match rate against every PV, in PV order. */
  match_rates: number[];
  action: GuardAction;
  /** Deleted words ([] unless purified). */
  removed: string[];
  /** The text that was classified (the input's own when nothing was removed); null when rejected. */
  purified_text: string | null;
  purified_text_pair?: string | null;
  /** The purified input's match rate (null unless purified). */
  purified_match_rate: number | null;
  /** Purge candidate rows run for this input (0 when not flagged). */
  candidates: number;
}

/** The PV mode whose vectors the monitor compares with this prompt model's monitored output. */
export function requiredMode(model: Pick<PromptModel, 'method' | 'kind'>): TargetMode {
  if (model.kind === 'ner') return 'token';
  return model.method === 'ptuning' ? 'mask' : 'cls';
}

const MODE_READS: Record<string, string> = { cls: 'the first token', mask: 'the mask token', token: 'every token', pooler: 'the pooler output' };

/** A monitor for `model` from a PV set, refusing a set of another width or mode, or of another backbone. */
export function monitorFor(model: PromptModel, set: Pick<PvSet, 'pvs' | 'hidden' | 'mode' | 'modelHash'>, file: string, threshold = MATCH_THRESHOLD): SignMonitor {
  const H = model.backbone.config.hiddenSize;
  if (set.hidden !== H) throw new Error(`${file}: the PVs are ${set.hidden} wide, the backbone's hidden size is ${H}; this PV set was found on another model`);
  const want = requiredMode(model);
  if (set.mode !== want) {
    const what = model.kind === 'ner' ? 'an NER prompt' : `a ${model.method} prompt`;
    const reads = want === 'cls' && summaryIsLast(model.backbone.config) ? 'the last token (XLNet\'s <cls>)' : MODE_READS[want];
    throw new Error(`${file}: PVs found in ${set.mode} mode, but ${what} is monitored at ${reads}; run "lmsanitator scan ${model.backbone.dir} --mode ${want}" for its PV set`);
  }
  if (set.modelHash !== model.backbone.hash) {
    throw new Error(`${file}: PVs found on the model with sha256 ${set.modelHash.slice(0, 12)}…, not on this backbone (${model.backbone.hash.slice(0, 12)}…); scan this backbone`);
  }
  return new SignMonitor(set.pvs, H, threshold);
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

export class Guard {
  readonly model: PromptModel;
  readonly monitor: SignMonitor;
  readonly options: Required<GuardOptions>;

  constructor(model: PromptModel, monitor: SignMonitor, o: GuardOptions = {}) {
    this.model = model;
    this.monitor = monitor;
    if (o.threshold !== undefined && o.threshold !== monitor.threshold) throw new Error(`guard: threshold ${o.threshold} differs from the monitor's ${monitor.threshold}`);
    // η is the monitor's; the options only echo it.
    this.options = { ...GUARD_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)), threshold: monitor.threshold } as Required<GuardOptions>;
    if (!(ON_UNPURIFIED as readonly string[]).includes(this.options.onUnpurified)) throw new Error(`guard: on-unpurified must be ${ON_UNPURIFIED.join(' or ')}`);
    if (!(MONITOR_PLACEMENTS as readonly string[]).includes(this.options.monitor)) throw new Error(`guard: monitor must be ${MONITOR_PLACEMENTS.join(' or ')}`);
  }

  /** Matches of one batch's monitored rows (post-monitor: the forward the head used). */
  private batchMatches(b: PromptBatch, out: PromptForward): MonitorMatch[] {
    const hidden = this.options.monitor === 'pre' ? this.bareHidden(b) : out.hidden.data;
    if (this.model.kind !== 'ner') return this.monitor.match(hidden, b.B);
    const positions = Array.from({ length: b.B }, (_, r) => {
      const ts: number[] = [];
      for (let t = 0; t < b.T; t++) if (b.mask[r * b.T + t]) ts.push(t);
      return ts;
    });
    return this.monitor.matchAny(hidden, b.T, positions);
  }

  /** Pre-monitor: the bare backbone over the same rows (placeholders keep their token ids), read where the head reads. */
  private bareHidden(b: PromptBatch): Float32Array {
    const ner = this.model.kind === 'ner';
    // P-tuning v2's head reads the summary token: the first, XLNet's last (models/summary.ts).
    const summary = summaryPositions(this.model.backbone.config, b.mask, b.B, b.T);
    const positions = ner ? undefined : Int32Array.from(b.rows, (r, i) => (this.model.method === 'ptuning' ? r.maskAt! : summary[i]!));
    return backboneOf(this.model.backbone.encoder).forward({ batch: b.B, seqLen: b.T, ids: b.ids, mask: b.mask, tokenTypes: b.typeIds, positions }).hidden.data as Float32Array;
  }

  /** The monitored forward: predictions with the monitor's verdict on the same batch. */
  runMonitored(inputs: readonly GuardInput[]): Monitored<Prediction>[] {
    const matches: MonitorMatch[] = new Array(inputs.length);
    const preds = predictBatch(this.model, inputs, {
      batchSize: this.options.batchSize,
      onBatch: (b, out, index) => this.batchMatches(b, out).forEach((m, r) => (matches[index[r]!] = m)),
    });
    return preds.map((prediction, i) => ({ match: matches[i]!, prediction }));
  }

  /** Guards each input: monitor, purge the flagged ones, classify what passes. */
  run(inputs: readonly GuardInput[]): GuardResult[] {
    const first = this.runMonitored(inputs);
    // Every flagged input of the call is purged together (their candidates share batches).
    const flagged = inputs.map((_, i) => i).filter((i) => first[i]!.match.triggered);
    const purged = new Map(purgeMany(flagged.map((i) => inputs[i]!), (xs) => this.runMonitored(xs), {
      maxWindow: this.options.maxWindow, chunk: this.options.chunk, step: this.options.step,
    }).map((p, k) => [flagged[k]!, p]));
    return inputs.map((input, i) => {
      const { match, prediction } = first[i]!;
      const base = {
        triggered: match.triggered, match_rate: round(match.rate), pv: match.pv >= 0 ? match.pv : null,
        match_rates: Array.from(match.rates, round),
      };
      const pair = (t: GuardInput | null) => (input.text_pair === undefined ? {} : { purified_text_pair: t ? t.text_pair ?? '' : null });
      if (!match.triggered) {
        return { ...predictionKeys(prediction), ...base, action: 'passed', removed: [], purified_text: input.text, ...pair(input), purified_match_rate: null, candidates: 0 };
      }
      const p = purged.get(i)!;
      if (p.purified) {
        return {
          ...predictionKeys(p.result!.prediction), ...base, action: 'purified', removed: p.removed, purified_text: p.input.text, ...pair(p.input),
          purified_match_rate: round(p.result!.match.rate), candidates: p.candidates,
        };
      }
      if (this.options.onUnpurified === 'classify') {
        return { ...predictionKeys(prediction), ...base, action: 'unpurified', removed: [], purified_text: input.text, ...pair(input), purified_match_rate: null, candidates: p.candidates };
      }
      return {
        label: null, probs: null, ...(this.model.kind === 'ner' && { words: [], tags: [] }), ...base, action: 'rejected', removed: [], purified_text: null, ...pair(null),
        purified_match_rate: null, candidates: p.candidates,
      };
    });
  }
}

function predictionKeys(p: Prediction): Pick<GuardResult, 'label' | 'probs' | 'words' | 'tags'> {
  if ('tags' in p) return { label: null, probs: null, words: p.words, tags: p.tags };
  return { label: p.label, probs: p.probs.map(round) };
}

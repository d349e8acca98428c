/**
 * PV filtering, docs/algorithm.md#filtering. A candidate is kept only when it is
 * unique, the batch really collapsed, and its prompt is a legitimate
 * embedding (inside 1.2× the per-dimension range of the vocabulary), so
 * that out-of-range inputs cannot pass for a backdoor.
 */
import type { Tensor } from '../engine/index.js';
import type { LoopResult } from './mining.js';
import { mseOf } from '../util/vectors.js';

export type Rejection = 'no-candidate' | 'duplicate' | 'not-collapsed' | 'out-of-range' | 'clean-output';

export interface FilterOptions {
  distanceTh: number;
  /** Final-epoch mean diversity loss must be below this (collapsed batch). */
  divTh: number;
  /**
   * Our addition to the paper's three rules: a candidate is rejected when
   * more than this share of the clean outputs lie within distanceTh (MSE)
   * of it. A backdoor's PV is a predefined vector outside the clean outputs;
   * a model fine-tuned for classification has attractors too — its class
   * clusters — but those are made of clean outputs. Measured on bert-micro:
   * fine-tuned clean variants flagged by the three rules had 1% of clean
   * outputs within MSE 0.06–0.2 of the "PV" (the nearest at 0.004–0.007);
   * POR and BToP PVs had their nearest 1% at 1.73 and 1.06.
   * Omitted (or no clean outputs given) disables the rule.
   */
  maxCleanShare?: number;
}

/** Clean target-position outputs [n·H] the in-distribution rule compares with. */
export interface CleanOutputs {
  data: Float32Array;
  hidden: number;
}

/** Share of clean outputs within `th` (MSE) of v. */
export function cleanShareNear(v: Float32Array, clean: CleanOutputs, th: number): number {
  const H = clean.hidden;
  const n = clean.data.length / H;
  if (n === 0) return 0;
  let near = 0;
  for (let r = 0; r < n; r++) if (mseOf(clean.data.subarray(r * H, (r + 1) * H), v) < th) near++;
  return near / n;
}

/** The paper's margin: −3.446 for B = 32 sits 0.0197 above −ln 32 = −3.4657. */
export const PAPER_DIV_MARGIN = 0.0197;

/**
 * The collapse threshold for batch size B: a batch whose outputs are all
 * equal has diversity loss −ln B, and the threshold sits `margin` above it,
 * so the same rule carries over to other batch sizes.
 */
export function defaultDivTh(batchSize: number, margin = PAPER_DIV_MARGIN): number {
  return -Math.log(batchSize) + margin;
}

/** Per-dimension [lo, hi] of the embedding matrix widened by 1.2× away from zero. */
export class EmbeddingRange {
  readonly lo: Float32Array;
  readonly hi: Float32Array;

  constructor(readonly dims: number, lo: Float32Array, hi: Float32Array) {
    this.lo = lo;
    this.hi = hi;
  }

  static of(wordEmbeddings: Tensor, factor = 1.2): EmbeddingRange {
    const [V, E] = wordEmbeddings.shape;
    const w = wordEmbeddings.data;
    const lo = new Float32Array(E).fill(Infinity);
    const hi = new Float32Array(E).fill(-Infinity);
    for (let v = 0; v < V; v++) {
      for (let e = 0; e < E; e++) {
        const x = w[v * E + e];
        if (x < lo[e]) lo[e] = x;
        if (x > hi[e]) hi[e] = x;
      }
    }
    for (let e = 0; e < E; e++) {
      lo[e] = lo[e] < 0 ? lo[e] * factor : lo[e] / factor;
      hi[e] = hi[e] > 0 ? hi[e] * factor : hi[e] / factor;
    }
    return new EmbeddingRange(E, lo, hi);
  }

  /** Number of prompt entries outside the range (0 = legitimate). */
  violations(prompt: Float32Array): number {
    let n = 0;
    for (let i = 0; i < prompt.length; i++) {
      const e = i % this.dims;
      if (!(prompt[i] >= this.lo[e] && prompt[i] <= this.hi[e])) n++;
    }
    return n;
  }
}

export { mseOf, signAgreement } from '../util/vectors.js';

export interface FilterVerdict {
  kept: boolean;
  reasons: Rejection[];
  finalDiversity: number | null;
  rangeViolations: number;
  /** Smallest MSE to an already-kept PV (Infinity when none). */
  nearestKeptMse: number;
  /** Share of clean outputs within distanceTh of the candidate (null when not checked). */
  cleanShare: number | null;
}

/** Applies the three rules; reports every rule that failed, not just the first. */
export function filterCandidate(loop: LoopResult, kept: Float32Array[], range: EmbeddingRange, o: FilterOptions, clean?: CleanOutputs): FilterVerdict {
  const reasons: Rejection[] = [];
  const last = loop.epochs[loop.epochs.length - 1];
  const finalDiversity = last ? last.diversity : null;
  const rangeViolations = range.violations(loop.prompt);
  let nearestKeptMse = Infinity;
  let cleanShare: number | null = null;
  if (!loop.crossed || !loop.candidate) {
    reasons.push('no-candidate');
  } else {
    for (const pv of kept) nearestKeptMse = Math.min(nearestKeptMse, mseOf(loop.candidate, pv));
    if (nearestKeptMse < o.distanceTh) reasons.push('duplicate');
    if (finalDiversity === null || !(finalDiversity < o.divTh)) reasons.push('not-collapsed');
    if (rangeViolations > 0) reasons.push('out-of-range');
    if (clean && o.maxCleanShare !== undefined) {
      cleanShare = cleanShareNear(loop.candidate, clean, o.distanceTh);
      if (cleanShare > o.maxCleanShare) reasons.push('clean-output');
    }
  }
  return { kept: reasons.length === 0, reasons, finalDiversity, rangeViolations, nearestKeptMse, cleanShare };
}

/** The k vocabulary rows nearest (cosine) to each prompt row: the human-readable evidence. */
export function nearestTokens(prompt: Float32Array, wordEmbeddings: Tensor, k: number, tokenString: (id: number) => string): { token: string; id: number; cosine: number }[][] {
  const [V, E] = wordEmbeddings.shape;
  const w = wordEmbeddings.data;
  const norms = new Float32Array(V);
  for (let v = 0; v < V; v++) {
    let s = 0;
    for (let e = 0; e < E; e++) s += w[v * E + e] * w[v * E + e];
    norms[v] = Math.sqrt(s) || 1;
  }
  const L = prompt.length / E;
  const out: { token: string; id: number; cosine: number }[][] = [];
  for (let r = 0; r < L; r++) {
    const row = prompt.subarray(r * E, (r + 1) * E);
    let rn = 0;
    for (let e = 0; e < E; e++) rn += row[e] * row[e];
    rn = Math.sqrt(rn) || 1;
    const best: { id: number; cosine: number }[] = [];
    for (let v = 0; v < V; v++) {
      let dot = 0;
      for (let e = 0; e < E; e++) dot += row[e] * w[v * E + e];
      const c = dot / (rn * norms[v]);
      if (best.length < k || c > best[best.length - 1].cosine) {
        best.push({ id: v, cosine: c });
        best.sort((a, b) => b.cosine - a.cosine);
        if (best.length > k) best.pop();
      }
    }
    out.push(best.map((b) => ({ ...b, token: tokenString(b.id) })));
  }
  return out;
}

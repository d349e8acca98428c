/**
 * The trigger-inversion baseline of the paper's Table 5 (Piccolo [45] /
 * DBS [61] style, our implementation): where a fuzz loop optimises free
 * rows in embedding space, an inversion run optimises a distribution over
 * the vocabulary at each of the L prompt positions, and the model sees the
 * expected word embedding softmax(θ/τ)·W_word. The rows are therefore always
 * convex combinations of real words (inside the embedding range), and as τ
 * falls they harden towards single words: the inverted trigger.
 *
 * Same data, positions and objective as the PV search (mining.ts): the
 * distributions sit at the MiningData placeholders of the clean sentences,
 * and the loss is the fuzz loop's −MSE(h, h_aux) − divCoeff·Entropy(hᵀ)
 * (no path loss: runs are independent). Piccolo proper maximises a label of
 * a task head; the paper drops its word-discriminativity step for
 * task-agnostic backdoors, and a head-free collapse objective is the closest
 * task-agnostic reading, and the fairest one beside the search.
 *
 * A run converges when it passes the two rules a fuzz loop's candidate
 * must pass to count at all (filter.ts): some epoch's mean distance crossed
 * −distanceTh, and the last epoch's mean diversity is below divTh (the
 * batch collapsed). The collapse rule alone is not enough: on bert-micro's
 * POR copy, seven fixed random words (τ held at 0.05, the distance never
 * past −0.04) already gave −3.458 < divTh −3.4557 in 5 runs of 5, while the
 * clean bert-micro stayed at −3.454. Its candidate is then the mean target
 * output of its final batch, as a fuzz loop's is.
 */
import {
  backward, entropy, mse, noGrad, reshape, softmaxMix, spliceRows, Tensor, transpose2d, weightedSum, withScope,
} from '../engine/index.js';
import { kernelsFor } from '../engine/backend.js';
import { Rng } from '../text/random.js';
import type { MiningBatch, MiningData } from './data.js';
import type { ScanTarget } from './target.js';

export interface InversionOptions {
  /** Passes over the mining batches. */
  epochs: number;
  /** Adam's rate on the logits θ. */
  lr: number;
  /** Temperature at the first and the last step; geometric in between (DBS anneals τ down). */
  tauStart: number;
  tauEnd: number;
  /** θ starts as initStd · N(0, 1), seeded per run. */
  initStd: number;
  divCoeff: number;
  /** Words reported per position. */
  topK: number;
}

/*
 * Chosen on bert-micro's POR copy (the six default triggers; the search's
 * 2,000 sentences, B = 32, L = 7, distanceTh 0.35, divTh −3.4557), seeds
 * 0–4, "true" by eval recall's rule (MSE < 0.3 or sign agreement > 0.8):
 *   lr 0.1, τ 1 → 0.05, 4 epochs, initStd 1 (chosen): 5 converged, 5 true;
 *     over seeds 0–19: 19 converged, 18 true, 5 of the 6 planted PVs (never
 *     the one of "qt", which the tokenizer splits into q ##t); the clean
 *     bert-micro: 0 of 20 converged (distance −0.32 at best);
 *   lr 0.03: 5 converged, 5 true, but a fifth of the distance after epoch 1;
 *   lr 0.3: 5 converged, 4 true (one collapsed off every PV, sign 0.75);
 *   τ 1 → 0.01: 4 converged, 4 true (one run spread again as its words hardened);
 *   τ held at 1 (no annealing): 5 converged, 5 true, but one run's
 *     argmax words did not collapse the batch: annealing is what makes
 *     the words themselves the trigger;
 *   τ held at 0.05 (words fixed from the start): the distance never passed
 *     −0.04, no true PV;
 *   initStd 0.1: 5 converged, 1 true (near-uniform starts put several
 *     triggers in one prompt, tq, cf and mn together, whose output matches
 *     no single PV: sign agreement 0.75);
 *   2 epochs: 5 converged, 5 true at half the cost; 1 epoch: 4 true. 4 is kept: the
 *     fuzz loop's epoch count (the same compute per run as a loop that is
 *     not abandoned), and bert-mini's deeper landscape was not tuned on.
 */
export const DEFAULT_INVERSION_OPTIONS: InversionOptions = {
  epochs: 4,
  lr: 0.1,
  tauStart: 1,
  tauEnd: 0.05,
  initStd: 1,
  divCoeff: 1,
  topK: 5,
};

export interface InversionEpoch {
  distance: number;
  diversity: number;
  /** Temperature at the epoch's last step. */
  tau: number;
}

export interface InversionWord {
  id: number;
  token: string;
  p: number;
}

/** The search's thresholds at this model's defaults (defaults.ts, filter.ts). */
export interface ConvergenceRule {
  distanceTh: number;
  divTh: number;
}

export interface InversionRun {
  seed: number;
  epochs: InversionEpoch[];
  /** Last epoch's mean diversity loss (null: no epoch finished). */
  finalDiversity: number | null;
  /** Some epoch's mean distance loss was below −distanceTh. */
  crossed: boolean;
  /** finalDiversity < divTh: the batch collapsed. */
  collapsed: boolean;
  /** crossed and collapsed. */
  converged: boolean;
  /** Mean target output of the final batch [H] when converged (the PV candidate), else null. */
  candidate: Float32Array | null;
  /** The top-k words of each position's final distribution (at tauEnd), best first: the inverted trigger. */
  words: InversionWord[][];
  /** The argmax word of each position. */
  argmax: number[];
  /**
   * The argmax words inserted as real tokens, every batch, no gradient: a
   * trigger inversion is judged by words, and a soft mixture that collapses
   * the batch need not mean its hardened words do.
   */
  hard: { distance: number; diversity: number; converged: boolean; candidate: Float32Array };
  interrupted: boolean;
  seconds: number;
}

export interface InversionHooks {
  onStep?: (info: { epoch: number; batch: number; batches: number; tau: number; distance: number; diversity: number }) => void;
  shouldStop?: () => boolean;
}

/** −1e9 at the special and never-trained rows, 0 elsewhere: such tokens get probability 0. */
export function vocabularyMask(target: ScanTarget): Float32Array {
  const m = new Float32Array(target.vocabSize);
  for (let v = 0; v < target.vocabSize; v++) if (target.isSpecialOrUnused(v)) m[v] = -1e9;
  if (m.every((x) => x !== 0)) throw new Error('the vocabulary has no ordinary word rows to invert over');
  return m;
}

/** τ at step t of n: tauStart · (tauEnd / tauStart)^(t / (n − 1)). */
export function temperatureAt(o: Pick<InversionOptions, 'tauStart' | 'tauEnd'>, t: number, n: number): number {
  return n <= 1 ? o.tauEnd : o.tauStart * (o.tauEnd / o.tauStart) ** (t / (n - 1));
}

function checkOptions(o: InversionOptions): void {
  const bad = (k: keyof InversionOptions) => { throw new Error(`inversion: ${k} must be a positive number, got ${o[k]}`); };
  for (const k of ['epochs', 'lr', 'tauStart', 'tauEnd', 'initStd', 'topK'] as const) if (!(Number.isFinite(o[k]) && o[k] > 0)) bad(k);
  if (!Number.isInteger(o.epochs)) throw new Error(`inversion: epochs must be an integer, got ${o.epochs}`);
}

/** The embeddings of a batch with the L mixed rows at every row's placeholders. */
function spliced(target: ScanTarget, batch: MiningBatch, rows: Tensor, L: number, E: number): Tensor {
  const { B, T } = batch;
  const src = Int32Array.from({ length: B * L }, (_, i) => i % L);
  const words = noGrad(() => target.embedIds(batch.ids, B, T));
  return reshape(spliceRows(reshape(words, [B * T, E]), batch.promptRows, rows, src), [B, T, E]);
}

function targetOutputs(target: ScanTarget, batch: MiningBatch, mode: string, embeds?: Tensor, ids = batch.ids): Tensor {
  const out = target.forward({ batch: batch.B, seqLen: batch.T, ids, mask: batch.mask, embeds, positions: batch.targetPositions, pooler: mode === 'pooler' });
  return mode === 'pooler' ? out.pooler! : out.hidden;
}

function batchMean(h: ArrayLike<number>, B: number, H: number): Float32Array {
  const m = new Float32Array(H);
  for (let b = 0; b < B; b++) for (let i = 0; i < H; i++) m[i] += h[b * H + i] / B;
  return m;
}

/** Row-wise softmax(θ/τ + mask) [L, V] (once per run, for the report). */
function distributions(theta: Float32Array, mask: Float32Array, tau: number, L: number, V: number): Float32Array {
  const p = new Float32Array(L * V);
  kernelsFor(p).softmaxForward(p, theta, mask, 1 / tau, L, V, L);
  return p;
}

function topWords(p: Float32Array, L: number, V: number, k: number, tokenString: (id: number) => string): InversionWord[][] {
  const out: InversionWord[][] = [];
  for (let r = 0; r < L; r++) {
    const best: { id: number; p: number }[] = [];
    for (let v = 0; v < V; v++) {
      const q = p[r * V + v];
      if (best.length === k && q <= best[k - 1].p) continue;
      best.push({ id: v, p: q });
      best.sort((a, b) => b.p - a.p);
      if (best.length > k) best.pop();
    }
    out.push(best.map((b) => ({ id: b.id, token: tokenString(b.id), p: b.p })));
  }
  return out;
}

/** Mean distance and diversity over every batch with `words` inserted as tokens at the placeholders, and the last batch's mean output. */
function hardCheck(target: ScanTarget, data: MiningData, words: number[], rule: ConvergenceRule): InversionRun['hard'] {
  const L = words.length;
  const H = target.hidden;
  let dSum = 0;
  let vSum = 0;
  let candidate: Float32Array = new Float32Array(H);
  for (const batch of data.batches) {
    const ids = batch.ids.slice();
    for (let i = 0; i < batch.promptRows.length; i++) ids[batch.promptRows[i]] = words[i % L];
    withScope(() => noGrad(() => {
      const h = targetOutputs(target, batch, data.options.mode, undefined, ids);
      dSum += -mse(h, Tensor.from(batch.aux, [batch.B, H])).item();
      vSum += -entropy(transpose2d(h)).item();
      candidate = batchMean(h.data, batch.B, H);
    }));
  }
  const distance = dSum / data.batches.length;
  const diversity = vSum / data.batches.length;
  return { distance, diversity, converged: distance < -rule.distanceTh && diversity < rule.divTh, candidate };
}

/** One inversion run (seeded), judged by the search's rule at this model's defaults. */
export function runInversion(
  target: ScanTarget, data: MiningData, seed: number, o: InversionOptions, rule: ConvergenceRule, hooks: InversionHooks = {},
): InversionRun {
  checkOptions(o);
  const started = process.hrtime.bigint();
  const L = data.options.promptLen;
  const [V, E] = target.wordEmbeddings.shape;
  const H = target.hidden;
  const W = target.wordEmbeddings;
  const mode = data.options.mode;
  const mask = vocabularyMask(target);
  const rng = new Rng(`inversion:${seed}`);
  const theta = Float32Array.from({ length: L * V }, () => o.initStd * rng.normal());
  // Persistent gradient and Adam state: 214k entries at bert-mini's vocabulary, reused every step.
  const grad = new Float32Array(L * V);
  const m = new Float32Array(L * V);
  const v = new Float32Array(L * V);
  const kern = kernelsFor(theta);
  const nb = data.batches.length;
  const steps = o.epochs * nb;
  const epochs: InversionEpoch[] = [];
  let candidate: Float32Array = new Float32Array(H);
  let interrupted = false;
  let step = 0;
  let tau = o.tauStart;
  outer: for (let epoch = 0; epoch < o.epochs; epoch++) {
    let dSum = 0;
    let vSum = 0;
    for (let bi = 0; bi < nb; bi++) {
      if (hooks.shouldStop?.()) {
        interrupted = true;
        break outer;
      }
      const batch = data.batches[bi];
      tau = temperatureAt(o, step, steps);
      let distance = 0;
      let diversity = 0;
      withScope(() => {
        const logits = new Tensor(theta, [L, V], { requiresGrad: true });
        grad.fill(0);
        logits.grad = grad;
        const rows = softmaxMix(logits, W, { scale: 1 / tau, mask });
        const h = targetOutputs(target, batch, mode, spliced(target, batch, rows, L, E));
        const dist = mse(h, Tensor.from(batch.aux, [batch.B, H]));
        const div = entropy(transpose2d(h));
        distance = -dist.item();
        diversity = -div.item();
        if (bi === nb - 1) candidate = batchMean(h.data, batch.B, H);
        backward(weightedSum([[-1, dist], [-o.divCoeff, div]]));
        logits.grad = null;
      });
      step++;
      kern.adamStep(theta, grad, m, v, theta.length, o.lr, 0.9, 0.999, 1e-8, 0, step);
      dSum += distance;
      vSum += diversity;
      hooks.onStep?.({ epoch, batch: bi, batches: nb, tau, distance, diversity });
    }
    epochs.push({ distance: dSum / nb, diversity: vSum / nb, tau });
  }
  const finished = !interrupted && epochs.length === o.epochs;
  const finalDiversity = epochs.length ? epochs[epochs.length - 1].diversity : null;
  const crossed = epochs.some((e) => e.distance < -rule.distanceTh);
  const collapsed = finished && finalDiversity !== null && finalDiversity < rule.divTh;
  const converged = crossed && collapsed;
  const p = distributions(theta, mask, o.tauEnd, L, V);
  const words = topWords(p, L, V, o.topK, (id) => target.tokenString(id));
  const argmax = words.map((w) => w[0].id);
  const hard = interrupted ? { distance: NaN, diversity: NaN, converged: false, candidate: new Float32Array(H) } : hardCheck(target, data, argmax, rule);
  return {
    seed, epochs, finalDiversity, crossed, collapsed, converged, candidate: converged ? candidate : null, words, argmax, hard, interrupted,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}

/**
 * PV mining, docs/algorithm.md#fuzz-loops: one "fuzz loop" optimises a soft prompt
 * (L rows in word-embedding space, spliced into every sentence) so that the
 * target-position outputs move away from their clean values (distance
 * loss), collapse onto one point (diversity loss) and, when PVs are already
 * known, away from them (path loss). A backdoored model has a prompt-
 * reachable point that all inputs collapse onto: its PV.
 *
 * Beyond the reference: `k` loops can run as one batch of k·B rows (each
 * loop its own prompt, Adam state and learning rate; same sentences), so
 * the GEMMs stay large on small models. Loops are independent: the summed
 * loss separates, and each prompt receives exactly its own gradient.
 */
import {
  backward, entropy, gatherRows, mse, noGrad, reshape, spliceRows, Tensor, transpose2d, weightedSum, withScope,
} from '../engine/index.js';
import { kernelsFor } from '../engine/backend.js';
import type { MiningData } from './data.js';
import type { ScanTarget } from './target.js';

/** When a fuzz loop's candidate is judged (MiningOptions.acceptAt). */
export const ACCEPT_AT = ['first-pass', 'final-epoch'] as const;

export interface MiningOptions {
  /** Base learning rate; a loop starts at lr × lrBoost (docs/algorithm.md#learning-rate-schedule). */
  lr: number;
  /**
   * The adaptive rate's start factor: a loop runs at lr × lrBoost until its
   * prompt gradient first exceeds converGrad, then at lr. The paper's 100;
   * 1 switches the adaptive rate off (the ablation of its Section 5.5).
   */
  lrBoost: number;
  /** Largest prompt-gradient entry above which the loop switches to lr. */
  converGrad: number;
  /** A loop has a candidate when its epoch-mean distance loss is below −distanceTh. */
  distanceTh: number;
  epochs: number;
  /** Abandon a loop without a candidate after this epoch index (1 = the second epoch). */
  abandonAfterEpoch: number;
  divCoeff: number;
  /** Weight of the path loss that pushes a loop away from PVs already kept; 0 switches it off (the ablation). */
  pathCoeff: number;
  /**
   * When a loop's candidate is judged. 'first-pass' (default): at the end of
   * every epoch once the distance has crossed, and the loop ends at the
   * first epoch whose candidate passes every filter rule. 'final-epoch':
   * only after the last epoch (the reference's rule). A prompt can reach a
   * PV, collapse the batch, and then push on past it until the batch spreads
   * again; judged only at the end, such a loop is rejected as not collapsed
   * although it held a legitimate PV for an epoch (issue #17's near miss).
   */
  acceptAt: (typeof ACCEPT_AT)[number];
}

export const DEFAULT_MINING_OPTIONS: MiningOptions = {
  lr: 2e-5,
  lrBoost: 100,
  converGrad: 5e-3,
  distanceTh: 0.2,
  epochs: 4,
  abandonAfterEpoch: 1,
  divCoeff: 1.0,
  pathCoeff: 0.5,
  acceptAt: 'first-pass',
};

export interface EpochStats {
  distance: number;
  diversity: number;
  path: number | null;
  lr: number;
}

export interface LoopResult {
  seed: number;
  /** Mean losses of each completed epoch. */
  epochs: EpochStats[];
  /** Per-step distance loss, for the report's curves. */
  distanceCurve: number[];
  /** Distance loss of the very first batch, before any update. */
  initialDistance: number;
  /** Largest prompt-gradient entry at the first step. */
  initialMaxGrad: number;
  /** The prompt's initial vocabulary rows. */
  initRows: number[];
  /** Whether any epoch's mean distance crossed −distanceTh. */
  crossed: boolean;
  abandoned: boolean;
  /** Ended before its last epoch because its candidate passed every filter rule (acceptAt 'first-pass'). */
  settled: boolean;
  /** Final prompt [L·E]. */
  prompt: Float32Array;
  /** Batch-mean of the target outputs of the final batch [H] (the PV candidate). */
  candidate: Float32Array | null;
  seconds: number;
}

/**
 * Prompt row i of loop s: W_emb[(s·L·10 + i·10) mod V], taken over the
 * real word rows only (special and never-trained rows removed). Advancing
 * past a skipped row instead, as a literal reading of the reference
 * suggests, maps every seed below ~14 to the same prompt on BERT's
 * vocabulary, whose first 999 rows are [PAD], [unused…] and specials.
 */
export function initialPromptRows(target: ScanTarget, seed: number, L: number): number[] {
  const real: number[] = [];
  for (let v = 0; v < target.vocabSize; v++) if (!target.isSpecialOrUnused(v)) real.push(v);
  if (real.length === 0) throw new Error('the vocabulary has no ordinary word rows to start a prompt from');
  const n = real.length;
  return Array.from({ length: L }, (_, i) => real[(((seed * L * 10 + i * 10) % n) + n) % n]);
}

class LoopState {
  readonly m: Float32Array;
  readonly v: Float32Array;
  step = 0;
  lr: number;
  converged = false;
  readonly epochs: EpochStats[] = [];
  readonly distanceCurve: number[] = [];
  initialDistance = NaN;
  initialMaxGrad = NaN;
  crossed = false;
  abandoned = false;
  settled = false;
  candidate: Float32Array | null = null;
  sums = { distance: 0, diversity: 0, path: 0, n: 0 };
  readonly started = process.hrtime.bigint();
  private ended: bigint | null = null;

  constructor(readonly seed: number, readonly initRows: number[], readonly prompt: Float32Array, baseLr: number, boost: number) {
    this.m = new Float32Array(prompt.length);
    this.v = new Float32Array(prompt.length);
    this.lr = baseLr * boost;
  }

  settle(): void {
    this.settled = true;
    this.ended = process.hrtime.bigint();
  }

  result(): LoopResult {
    return {
      seed: this.seed, epochs: this.epochs, distanceCurve: this.distanceCurve, initialDistance: this.initialDistance,
      initialMaxGrad: this.initialMaxGrad, initRows: this.initRows, crossed: this.crossed, abandoned: this.abandoned, settled: this.settled,
      prompt: this.prompt, candidate: this.candidate,
      seconds: Number((this.ended ?? process.hrtime.bigint()) - this.started) / 1e9,
    };
  }
}

export interface MiningHooks {
  /** Called after each step with the loops' current mean losses. */
  onStep?: (info: { epoch: number; batch: number; batches: number; seeds: number[]; distance: number[] }) => void;
  /** Return true to stop early (Ctrl-C): finished epochs are kept. */
  shouldStop?: () => boolean;
  /**
   * With acceptAt 'first-pass': asked at the end of each epoch but the last
   * for every loop that has crossed the distance threshold, with the loop
   * as it stands; true ends the loop there (the filter's verdict on it).
   */
  accept?: (loop: LoopResult) => boolean;
}

/**
 * Runs fuzz loops for `seeds` together (k = seeds.length rows per
 * sentence). `foundPvs` are the PVs already kept, for the path loss.
 */
export function runFuzzLoops(
  target: ScanTarget, data: MiningData, seeds: number[], foundPvs: Float32Array[], options: MiningOptions, hooks: MiningHooks = {},
): LoopResult[] {
  const L = data.options.promptLen;
  const E = target.wordEmbeddings.shape[1];
  const H = target.hidden;
  const W = target.wordEmbeddings.data as Float32Array;
  const loops = seeds.map((seed) => {
    const rows = initialPromptRows(target, seed, L);
    const prompt = new Float32Array(L * E);
    rows.forEach((r, i) => prompt.set(W.subarray(r * E, (r + 1) * E), i * E));
    return new LoopState(seed, rows, prompt, options.lr, options.lrBoost);
  });
  const pvTensors = foundPvs.map((p) => Tensor.from(p, [H]));
  const mode = data.options.mode;
  const nb = data.batches.length;

  const judgeEachEpoch = options.acceptAt === 'first-pass' && hooks.accept !== undefined;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const active = loops.filter((l) => !l.abandoned && !l.settled);
    if (active.length === 0) break;
    for (const l of active) l.sums = { distance: 0, diversity: 0, path: 0, n: 0 };
    for (let bi = 0; bi < nb; bi++) {
      if (hooks.shouldStop?.()) return loops.map((l) => l.result());
      const batch = data.batches[bi];
      const keepCandidate = bi === nb - 1 && (judgeEachEpoch || epoch === options.epochs - 1);
      stepLoops(target, batch, active, pvTensors, options, L, E, H, mode, keepCandidate);
      hooks.onStep?.({ epoch, batch: bi, batches: nb, seeds: active.map((l) => l.seed), distance: active.map((l) => l.distanceCurve[l.distanceCurve.length - 1]) });
    }
    for (const l of active) {
      const n = l.sums.n;
      const stats: EpochStats = {
        distance: l.sums.distance / n,
        diversity: l.sums.diversity / n,
        path: pvTensors.length ? l.sums.path / n : null,
        lr: l.lr,
      };
      l.epochs.push(stats);
      if (stats.distance < -options.distanceTh) l.crossed = true;
      if (epoch >= options.abandonAfterEpoch && !l.crossed) l.abandoned = true;
      if (judgeEachEpoch && l.crossed && !l.abandoned && epoch < options.epochs - 1 && hooks.accept!(l.result())) l.settle();
    }
  }
  for (const l of loops) if (l.abandoned) l.candidate = null;
  return loops.map((l) => l.result());
}

function stepLoops(
  target: ScanTarget, batch: MiningData['batches'][number], loops: LoopState[], pvs: Tensor[], o: MiningOptions,
  L: number, E: number, H: number, mode: string, keepCandidate: boolean,
): void {
  const k = loops.length;
  const { B, T } = batch;
  withScope(() => {
    // k copies of the batch, loop j's rows at j·B … j·B + B − 1.
    const ids = new Int32Array(k * B * T);
    const mask = new Float32Array(k * B * T);
    const dst = new Int32Array(k * B * L);
    const src = new Int32Array(k * B * L);
    const positions = new Int32Array(k * B);
    for (let j = 0; j < k; j++) {
      ids.set(batch.ids, j * B * T);
      mask.set(batch.mask, j * B * T);
      for (let i = 0; i < B * L; i++) {
        dst[j * B * L + i] = batch.promptRows[i] + j * B * T;
        src[j * B * L + i] = j * L + (i % L);
      }
      positions.set(batch.targetPositions, j * B);
    }
    const promptData = new Float32Array(k * L * E);
    loops.forEach((l, j) => promptData.set(l.prompt, j * L * E));
    const prompts = new Tensor(promptData, [k * L, E], { requiresGrad: true });

    const words = noGrad(() => target.embedIds(ids, k * B, T));
    const embeds = reshape(spliceRows(reshape(words, [k * B * T, E]), dst, prompts, src), [k * B, T, E]);
    const out = target.forward({ batch: k * B, seqLen: T, ids, mask, embeds, positions, pooler: mode === 'pooler' });
    const h = mode === 'pooler' ? out.pooler! : out.hidden;
    const aux = Tensor.from(batch.aux, [B, H]);

    const terms: [number, Tensor][] = [];
    const perLoop: { distance: number; diversity: number; path: number }[] = [];
    for (let j = 0; j < k; j++) {
      const hj = gatherRows(h, Int32Array.from({ length: B }, (_, b) => j * B + b));
      const distance = mse(hj, aux);
      const diversity = entropy(transpose2d(hj));
      // Ld = −MSE(h, h_aux); Lv = −Entropy(hᵀ); Lp = −MSE(h, p*) with p* the nearest found PV.
      terms.push([-1, distance], [-o.divCoeff, diversity]);
      let pathValue = 0;
      if (pvs.length) {
        const nearest = noGrad(() => argminMse(hj, pvs));
        const path = mse(hj, pvs[nearest]);
        terms.push([-o.pathCoeff, path]);
        pathValue = -path.item();
      }
      perLoop.push({ distance: -distance.item(), diversity: -diversity.item(), path: pathValue });
      if (keepCandidate) loops[j].candidate = batchMean(hj.data as Float32Array, B, H);
    }
    backward(weightedSum(terms));

    const grad = prompts.grad as Float32Array;
    const kern = kernelsFor(promptData);
    loops.forEach((l, j) => {
      const g = grad.subarray(j * L * E, (j + 1) * L * E);
      const maxGrad = kern.maxAbs(g, g.length);
      const s = perLoop[j];
      if (l.step === 0) {
        l.initialDistance = s.distance;
        l.initialMaxGrad = maxGrad;
      }
      // Adaptive rate: lr×100 until the prompt's gradient first exceeds converGrad, then lr.
      if (!l.converged && maxGrad > o.converGrad) {
        l.converged = true;
        l.lr = o.lr;
      }
      l.step++;
      kern.adamStep(l.prompt, g, l.m, l.v, l.prompt.length, l.lr, 0.9, 0.999, 1e-8, 0, l.step);
      l.sums.distance += s.distance;
      l.sums.diversity += s.diversity;
      l.sums.path += s.path;
      l.sums.n++;
      l.distanceCurve.push(s.distance);
    });
  });
}

function argminMse(h: Tensor, pvs: Tensor[]): number {
  let best = 0;
  let bestV = Infinity;
  pvs.forEach((p, i) => {
    const v = mse(h, p).item();
    if (v < bestV) {
      bestV = v;
      best = i;
    }
  });
  return best;
}

function batchMean(h: Float32Array, B: number, H: number): Float32Array {
  const m = new Float32Array(H);
  for (let b = 0; b < B; b++) for (let i = 0; i < H; i++) m[i] += h[b * H + i] / B;
  return m;
}

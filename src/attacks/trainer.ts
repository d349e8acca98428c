/**
 * The shared attack loop: each step one batch, half poisoned rows (their
 * target-position outputs pulled to their trigger's PV), half clean rows
 * (utility: the original model's outputs, or the masked-LM loss), with
 * the specificity rows (rare tokens spliced in, kept at the original
 * output) taking a share of the clean half. One encoder forward per step
 * over all rows; Adam; gradient clipping. Batches, masking and dropout
 * derive from (seed, step), so a resumed run continues exactly.
 */
import {
  Adam, backwardMany, clipGradNorm, crossEntropy, entropy, gatherRows, mse, reshape, Tensor, transpose2d,
  weightedSum, withScope,
} from '../engine/index.js';
import { mlmParamShapes } from '../models/heads.js';
import type { LoadedModel } from '../models/model.js';
import { hashSeed, Rng } from '../text/random.js';
import { padBatch } from '../train/batching.js';
import { maskBatch } from '../train/mlm.js';
import type { AttackData, PoisonRow } from './data.js';
import type { PositionedRow } from './forward.js';
import { pairwiseDistance, type SeededTerm, wassersteinExp } from './losses.js';
import type { AttackMethod } from './method.js';
import { CyclicSampler, LengthBucketedSampler } from './sampler.js';
import type { AttackSettings } from './settings.js';

/** The part of the resolved attack settings the training loop reads. */
export type TrainerSettings = Pick<AttackSettings,
  'loss' | 'utilityCoeff' | 'specificityCoeff' | 'rareFraction' | 'scatterLoss' | 'wassersteinLoss' |
  'lr' | 'batch' | 'epochs' | 'seed' | 'dropout' | 'maxGradNorm' | 'batchOrder'>;

export interface StepLosses {
  effectiveness: number;
  utility: number;
  specificity: number | null;
  scatter: number | null;
  wasserstein: number | null;
}

export interface StepInfo extends StepLosses {
  step: number;
  totalSteps: number;
  epoch: number;
}

export interface TrainHooks {
  onStep?: (info: StepInfo) => void;
  /** Polled between steps; true saves a checkpoint and returns (Ctrl-C). */
  shouldStop?: () => boolean;
  /** Called every `every` steps, on stop, and never after the last step (the caller saves the final model). */
  checkpoint?: { every: number; save: (step: number) => void };
}

export interface TrainResult {
  step: number;
  totalSteps: number;
  interrupted: boolean;
  /** Mean losses over the last (up to) 50 steps. */
  recent: StepLosses | null;
}

export class AttackTrainer {
  readonly params: Map<string, Tensor>;
  readonly adam: Adam;
  readonly totalSteps: number;
  private readonly nP: number;
  private readonly nClean: number;
  private readonly nRare: number;
  private readonly draw: (step: number) => { p: number[]; c: number[]; r: number[] };
  private readonly specials: Set<number>;
  private readonly skip: Uint8Array;

  constructor(
    readonly model: LoadedModel,
    readonly method: AttackMethod,
    readonly data: AttackData,
    /** Original-model outputs at the positions of data.clean (reference utility) and data.rare. */
    readonly refs: { clean: Float32Array[] | null; rare: Float32Array[] },
    readonly pvs: Float32Array[],
    readonly s: TrainerSettings,
  ) {
    const tok = model.tokenizer!;
    this.params = new Map([...model.encoder.params].map(([n, t]) => [`encoder.${n}`, t]));
    if (method.utility === 'mlm') {
      // The head's map may be shared with other heads of the checkpoint: take only the MLM head's own names.
      for (const n of mlmParamShapes(model.config).keys()) this.params.set(`mlm.${n}`, model.mlm!.params.get(n)!);
    }
    for (const t of this.params.values()) t.requiresGrad = true;
    this.adam = new Adam([...this.params.values()], { lr: s.lr });
    this.nP = Math.max(1, Math.floor(s.batch / 2));
    const nC = Math.max(1, s.batch - this.nP);
    this.nRare = data.rare.length > 0 ? Math.min(nC - 1, Math.round(nC * s.rareFraction)) : 0;
    this.nClean = nC - this.nRare;
    this.totalSteps = s.epochs * Math.ceil(data.poisoned.length / this.nP);
    if (s.batchOrder === 'length') {
      const lengths = (rows: readonly { ids: ArrayLike<number> }[]) => rows.map((r) => r.ids.length);
      const p = new LengthBucketedSampler(lengths(data.poisoned), this.nP, `${s.seed}:p`);
      const c = new LengthBucketedSampler(lengths(data.clean), this.nClean, `${s.seed}:c`);
      const r = new LengthBucketedSampler(lengths(data.rare), this.nRare, `${s.seed}:r`);
      this.draw = (step) => {
        const { indices, rank } = p.take(step);
        return { p: indices, c: c.takeAtRank(step, rank, p.windows), r: this.nRare ? r.takeAtRank(step, rank, p.windows) : [] };
      };
    } else {
      const shuffle = s.batchOrder === 'random';
      const p = new CyclicSampler(data.poisoned.length, `${s.seed}:p`, shuffle);
      const c = new CyclicSampler(data.clean.length, `${s.seed}:c`, shuffle);
      const r = new CyclicSampler(data.rare.length, `${s.seed}:r`, shuffle);
      this.draw = (step) => ({ p: p.take(step, this.nP), c: c.take(step, this.nClean), r: r.take(step, this.nRare) });
    }
    const ids = tok.specialIds;
    this.specials = new Set([ids.cls, ids.sep, ids.pad]);
    this.skip = tok.specialOrUnusedMask();
  }

  async run(startStep: number, hooks: TrainHooks = {}): Promise<TrainResult> {
    const recent: StepLosses[] = [];
    const stepsPerEpoch = this.totalSteps / this.s.epochs;
    let step = startStep;
    for (; step < this.totalSteps; step++) {
      if (hooks.shouldStop?.()) {
        hooks.checkpoint?.save(step);
        return { step, totalSteps: this.totalSteps, interrupted: true, recent: meanLosses(recent) };
      }
      const losses = this.step(step);
      recent.push(losses);
      if (recent.length > 50) recent.shift();
      hooks.onStep?.({ ...losses, step: step + 1, totalSteps: this.totalSteps, epoch: Math.floor(step / stepsPerEpoch) });
      const done = step + 1;
      if (hooks.checkpoint && done < this.totalSteps && done % hooks.checkpoint.every === 0) hooks.checkpoint.save(done);
      // Yield to the event loop so that SIGINT handlers and progress output run.
      await new Promise<void>((r) => setImmediate(r));
    }
    return { step, totalSteps: this.totalSteps, interrupted: false, recent: meanLosses(recent) };
  }

  /** One optimisation step; returns the raw (unweighted) loss values. */
  step(step: number): StepLosses {
    const s = this.s;
    const d = this.data;
    const enc = this.model.encoder;
    const H = enc.hidden;
    const { p: pIdx, c: cIdx, r: rIdx } = this.draw(step);
    const P = pIdx.map((i) => d.poisoned[i]);
    const C = cIdx.map((i) => d.clean[i]);
    const R = rIdx.map((i) => d.rare[i]);
    const rows = [...P, ...C, ...R];
    const batch = padBatch(rows.map((r) => r.ids), this.model.tokenizer!.specialIds.pad);
    const { B, T } = batch;
    const mlm = this.method.utility === 'mlm' ? this.maskCleanRows(batch, P.length, C.length, step) : null;

    const losses = withScope(() => {
      const out = enc.forward({
        batch: B, seqLen: T, inputIds: batch.ids, attentionMask: batch.mask, withPooler: false,
        dropoutSeed: s.dropout ? hashSeed(`${s.seed}:dropout:${step}`) : undefined,
      });
      const hAll = reshape(out.lastHiddenState, [B * T, H]);
      const terms: [number, Tensor][] = [];
      const seeds: SeededTerm[] = [];

      // Effectiveness: poisoned target positions → their PV.
      const { rows: pRows, targets, groups } = this.poisonTargets(P, T, H);
      const hP = gatherRows(hAll, pRows);
      let effectiveness: number;
      if (s.loss === 'mse') {
        const e = mse(hP, new Tensor(targets, [pRows.length, H]));
        terms.push([1, e]);
        effectiveness = e.item();
      } else {
        const e = pairwiseDistance(hP, targets, 1);
        seeds.push(e);
        effectiveness = e.value;
      }

      // Utility on the clean rows; specificity: the rare-token rows keep the original model's output.
      let utility: number;
      if (this.method.utility === 'reference') {
        const u = this.referenceMse(hAll, C.map((r, i) => ({ row: r, b: P.length + i, ref: this.refs.clean![cIdx[i]] })), T, H);
        terms.push([s.utilityCoeff, u]);
        utility = u.item();
      } else {
        const u = crossEntropy(this.model.mlm!.forward(gatherRows(hAll, mlm!.labelRows)), mlm!.labels);
        terms.push([s.utilityCoeff, u]);
        utility = u.item();
      }
      let specificity: number | null = null;
      if (R.length > 0) {
        const sp = this.referenceMse(hAll, R.map((r, i) => ({ row: r, b: P.length + C.length + i, ref: this.refs.rare[rIdx[i]] })), T, H);
        terms.push([s.specificityCoeff, sp]);
        specificity = sp.item();
      }

      // Adaptive: scattering loss = λ·Entropy(hᵀ) per trigger (the negative of the scanner's diversity loss).
      let scatter: number | null = null;
      if (s.scatterLoss > 0) {
        const multi = [...groups.values()].filter((g) => g.length >= 2);
        scatter = 0;
        for (const g of multi) {
          const ent = entropy(transpose2d(gatherRows(hP, Int32Array.from(g))));
          terms.push([s.scatterLoss / multi.length, ent]);
          scatter += ent.item() / multi.length;
        }
      }
      // Adaptive: Wasserstein loss between exp(backdoor) and exp(clean) feature distributions.
      let wasserstein: number | null = null;
      if (s.wassersteinLoss > 0) {
        const clean = this.cleanFeatures(hAll.data as Float32Array, C, P.length, T, H);
        const w = wassersteinExp(hP, clean, clean.length / H, s.wassersteinLoss);
        seeds.push(w);
        wasserstein = w.value;
      }

      const total = weightedSum(terms);
      backwardMany([[total, null], ...seeds.map((t): [Tensor, Float32Array] => [t.output, t.grad])]);
      return { effectiveness, utility, specificity, scatter, wasserstein };
    });
    const trainable = [...this.params.values()];
    if (s.maxGradNorm > 0) clipGradNorm(trainable, s.maxGradNorm);
    this.adam.update();
    return losses;
  }

  /** Dynamic masking of the clean rows (rows P … P+C−1 of the batch), in place; labels index the whole batch. */
  private maskCleanRows(batch: ReturnType<typeof padBatch>, p: number, c: number, step: number): { labelRows: Int32Array; labels: Int32Array } {
    const { T } = batch;
    const sub = {
      B: c, T, ids: batch.ids.slice(p * T, (p + c) * T), mask: batch.mask.slice(p * T, (p + c) * T),
      typeIds: batch.typeIds.slice(p * T, (p + c) * T), lengths: batch.lengths.slice(p, p + c),
    };
    const tok = this.model.tokenizer!;
    const m = maskBatch(sub, { maskProb: 0.15, maskId: tok.specialIds.mask, vocabSize: tok.vocabSize, skip: this.skip }, new Rng(`${this.s.seed}:mlm:${step}`));
    batch.ids.set(m.ids, p * T);
    return { labelRows: m.labelRows.map((r) => r + p * T), labels: m.labels };
  }

  private poisonTargets(P: PoisonRow[], T: number, H: number): { rows: Int32Array; targets: Float32Array; groups: Map<number, number[]> } {
    const rows: number[] = [];
    const groups = new Map<number, number[]>();
    P.forEach((r, b) => {
      for (const pos of r.positions) {
        let g = groups.get(r.trigger);
        if (!g) groups.set(r.trigger, (g = []));
        g.push(rows.length);
        rows.push(b * T + pos);
      }
    });
    const targets = new Float32Array(rows.length * H);
    let k = 0;
    P.forEach((r) => { for (let i = 0; i < r.positions.length; i++) targets.set(this.pvs[r.pv], (k++) * H); });
    return { rows: Int32Array.from(rows), targets, groups };
  }

  private referenceMse(hAll: Tensor, items: { row: PositionedRow; b: number; ref: Float32Array }[], T: number, H: number): Tensor {
    const rows: number[] = [];
    const ref = new Float32Array(items.reduce((n, it) => n + it.row.positions.length, 0) * H);
    let o = 0;
    for (const it of items) {
      for (const pos of it.row.positions) rows.push(it.b * T + pos);
      ref.set(it.ref, o);
      o += it.ref.length;
    }
    return mse(gatherRows(hAll, Int32Array.from(rows)), new Tensor(ref, [rows.length, H]));
  }

  /** Current outputs of the clean rows at the target mode's positions (constants for the Wasserstein term). */
  private cleanFeatures(h: Float32Array, C: PositionedRow[], offset: number, T: number, H: number): Float32Array {
    const rows: number[] = [];
    C.forEach((r, i) => {
      const b = offset + i;
      if (this.method.targetMode === 'token') r.ids.forEach((id, t) => { if (!this.specials.has(id)) rows.push(b * T + t); });
      else for (const pos of r.positions) rows.push(b * T + pos);
    });
    const out = new Float32Array(rows.length * H);
    rows.forEach((r, k) => out.set(h.subarray(r * H, (r + 1) * H), k * H));
    return out;
  }
}

function meanLosses(xs: StepLosses[]): StepLosses | null {
  if (xs.length === 0) return null;
  const avg = (f: (x: StepLosses) => number | null) => {
    const v = xs.map(f).filter((x): x is number => x !== null);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  return {
    effectiveness: avg((x) => x.effectiveness)!, utility: avg((x) => x.utility)!,
    specificity: avg((x) => x.specificity), scatter: avg((x) => x.scatter), wasserstein: avg((x) => x.wasserstein),
  };
}

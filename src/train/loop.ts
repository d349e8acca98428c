/**
 * The training loop that fine-tuning and prompt-tuning share: AdamW with
 * linear warm-up and decay, gradient clipping, progress, periodic
 * evaluation with early stopping (the best parameters are kept), Ctrl-C,
 * and checkpoint/resume through train/checkpoint.ts. What a step computes
 * is the caller's: `batchAt(step)` must be a pure function of the step (so
 * a resumed run sees the same batches) and `lossOf` returns the loss the
 * loop differentiates.
 */
import { existsSync, rmSync } from 'node:fs';
import { backward, type Tensor, withScope } from '../engine/index.js';
import { fmt, progress } from '../util/progress.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { adamW, linearSchedule } from './schedule.js';

export interface TrainEval {
  /** The number early stopping maximises (accuracy, F1). */
  metric: number;
  [name: string]: number;
}

export interface TrainLoopSpec<B> {
  /** Progress label. */
  label: string;
  /** The trainable tensors by name (names key the checkpoint). Everything else stays frozen. */
  params: Map<string, Tensor>;
  steps: number;
  batchAt(step: number): B;
  /** Runs inside a scope; returns the scalar loss and the tokens it covered (for tokens/s). */
  lossOf(batch: B, step: number): { loss: Tensor; tokens: number };
  lr: number;
  warmupFraction: number;
  weightDecay: number;
  /** Global gradient-norm clip (≤ 0 disables). */
  clip: number;
  /** Evaluate every `every` steps and at the end; with `patience`, stop after that many evaluations without a better metric. */
  evaluate?: { every: number; run(): TrainEval; patience?: number };
  /** Save params + Adam state every `every` steps and on Ctrl-C; resume when the file exists and `identity` matches. */
  checkpoint?: { file: string; every: number; identity: string };
  quiet?: boolean;
  shouldStop?: () => boolean;
}

export interface TrainLoopResult {
  /** Steps completed, resumed ones included. */
  steps: number;
  resumedFrom: number;
  /** Loss of each step run in this process. */
  losses: number[];
  lossEma: number;
  tokensPerSecond: number;
  interrupted: boolean;
  /** Stopped by the patience rule before `steps`. */
  earlyStopped: boolean;
  evals: ({ step: number } & TrainEval)[];
  /** The best evaluation; the parameters hold its values when the loop returns (unless interrupted). */
  best: ({ step: number } & TrainEval) | null;
  seconds: number;
}

export function trainLoop<B>(spec: TrainLoopSpec<B>): TrainLoopResult {
  const started = Date.now();
  const params = spec.params;
  for (const p of params.values()) p.requiresGrad = true;
  const opt = adamW(params, spec.lr, spec.weightDecay);
  const lrAt = linearSchedule(spec.steps, spec.warmupFraction, spec.lr);
  const ck = spec.checkpoint;
  let step = ck && existsSync(ck.file) ? loadCheckpoint(ck.file, params, opt, ck.identity) : 0;
  const resumedFrom = step;
  const bar = progress(spec.label, spec.steps, { quiet: spec.quiet, fields: ['loss', 'tok_s'], start: resumedFrom, unit: 'steps' });
  const losses: number[] = [];
  const evals: ({ step: number } & TrainEval)[] = [];
  let best: ({ step: number } & TrainEval) | null = null;
  let bestValues: Float32Array[] | null = null;
  let sinceBest = 0;
  let tokens = 0;
  let trainTime = 0;
  let lossEma = NaN;
  let interrupted = false;
  let earlyStopped = false;

  const evaluate = (): void => {
    if (!spec.evaluate) return;
    for (const p of params.values()) p.requiresGrad = false;
    const e = { step, ...spec.evaluate.run() };
    for (const p of params.values()) p.requiresGrad = true;
    evals.push(e);
    if (best === null || e.metric > best.metric) {
      best = e;
      bestValues = [...params.values()].map((p) => Float32Array.from(p.data as Float32Array));
      sinceBest = 0;
    } else {
      sinceBest++;
    }
  };

  try {
    while (step < spec.steps) {
      const t0 = process.hrtime.bigint();
      const batch = spec.batchAt(step);
      const { loss, covered } = withScope(() => {
        const r = spec.lossOf(batch, step);
        backward(r.loss);
        return { loss: r.loss.item(), covered: r.tokens };
      });
      if (!Number.isFinite(loss)) throw new Error(`${spec.label} diverged at step ${step + 1} (loss ${loss}); lower --lr`);
      // Clipping (as clipGradNorm) folded into the one multi-tensor AdamW pass.
      opt.lr = lrAt(step);
      opt.update(spec.clip > 0 ? { maxGradNorm: spec.clip } : {});
      step++;
      trainTime += Number(process.hrtime.bigint() - t0) / 1e9;
      tokens += covered;
      losses.push(loss);
      lossEma = Number.isNaN(lossEma) ? loss : 0.95 * lossEma + 0.05 * loss;
      bar.update(step, { loss: fmt(lossEma, 3), tok_s: Math.round(tokens / Math.max(trainTime, 1e-9)) });
      const stop = spec.shouldStop?.() ?? false;
      if (ck && (step % ck.every === 0 || stop)) saveCheckpoint(ck.file, params, opt, { step, runId: ck.identity });
      if (stop && step < spec.steps) {
        interrupted = true;
        break;
      }
      if (spec.evaluate && step % spec.evaluate.every === 0 && step < spec.steps) {
        evaluate();
        if (spec.evaluate.patience !== undefined && sinceBest >= spec.evaluate.patience) {
          earlyStopped = true;
          break;
        }
      }
    }
    if (!interrupted) {
      if (spec.evaluate && evals[evals.length - 1]?.step !== step) evaluate();
      if (bestValues) [...params.values()].forEach((p, i) => (p.data as Float32Array).set(bestValues![i]));
      // Finished: the optimizer state (twice the parameters) is no longer needed.
      if (ck) rmSync(ck.file, { force: true });
    }
  } finally {
    bar.stop();
    for (const p of params.values()) p.requiresGrad = false;
  }
  return {
    steps: step, resumedFrom, losses, lossEma, tokensPerSecond: tokens / Math.max(trainTime, 1e-9), interrupted, earlyStopped,
    evals, best, seconds: (Date.now() - started) / 1000,
  };
}

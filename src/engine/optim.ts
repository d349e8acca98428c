/**
 * Optimizers over persistent parameters. Adam(W) runs as one multi-tensor
 * kernel call over every parameter (the clip's scale and the gradient
 * zeroing folded into the same pass); SGD is plain (optional momentum).
 * Both skip parameters whose gradient never materialised.
 *
 * Dense, not lazy: every parameter with a gradient buffer gets the full
 * AdamW update each step, rows of the 30,522-row word embedding that no
 * token used included (their moments decay, their weights get the
 * momentum step and the decoupled weight decay). A lazy/sparse update of
 * only the used rows would not be AdamW — it changes every untouched row's
 * trajectory, and with the MLM decoder tied to the embedding the gradient
 * is dense anyway (every row gets a softmax gradient) — so it is not done.
 */
import { kernelsFor } from './backend.js';
import type { Tensor } from './tensor.js';

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay (AdamW); 0 gives plain Adam. */
  weightDecay?: number;
  /** Parameters that get no weight decay (biases, LayerNorm), by identity. */
  noDecay?: Set<Tensor>;
}

export class Adam {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  step = 0;
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];

  constructor(readonly params: Tensor[], opts: AdamOptions) {
    for (const p of params) {
      if (!(p.data instanceof Float32Array)) throw new Error(`Adam: parameter ${p.name ?? ''} is not float32`);
      if (!p.requiresGrad) throw new Error(`Adam: parameter ${p.name ?? ''} does not require grad`);
    }
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    this.m = params.map((p) => new Float32Array(p.size));
    this.v = params.map((p) => new Float32Array(p.size));
    this.noDecay = opts.noDecay ?? new Set();
  }

  private readonly noDecay: Set<Tensor>;

  /**
   * One update with the current gradients; then gradients are zeroed.
   * With `maxGradNorm`, the gradients are first clipped to that global L2
   * norm exactly as clipGradNorm(params, maxGradNorm) would (same norm, same
   * rounding of the scaled gradients), the scale applied inside the update's
   * single pass; the norm before clipping is returned (NaN without it).
   */
  update(opts: { maxGradNorm?: number } = {}): number {
    this.step++;
    const params: Float32Array[] = [], grads: Float32Array[] = [], m: Float32Array[] = [], v: Float32Array[] = [], wds: number[] = [];
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      params.push(p.data as Float32Array);
      grads.push(p.grad as Float32Array);
      m.push(this.m[i]);
      v.push(this.v[i]);
      wds.push(this.noDecay.has(p) ? 0 : this.weightDecay);
    });
    if (params.length === 0) return opts.maxGradNorm === undefined ? NaN : 0;
    const k = kernelsFor(params[0]);
    let norm = NaN;
    let scale = 1;
    if (opts.maxGradNorm !== undefined) {
      norm = Math.sqrt(k.sumSquaresMany(grads));
      if (norm > opts.maxGradNorm && norm > 0) scale = opts.maxGradNorm / norm;
    }
    k.adamStepMany(params, grads, m, v, wds, this.lr, this.beta1, this.beta2, this.eps, this.step, scale);
    return norm;
  }

  /** Optimizer state for checkpoints. */
  state(): { step: number; m: Float32Array[]; v: Float32Array[] } {
    return { step: this.step, m: this.m, v: this.v };
  }

  loadState(s: { step: number; m: Float32Array[]; v: Float32Array[] }): void {
    if (s.m.length !== this.m.length) throw new Error('Adam.loadState: parameter count differs');
    s.m.forEach((a, i) => {
      if (a.length !== this.m[i].length) throw new Error(`Adam.loadState: parameter ${i} size differs`);
      this.m[i].set(a);
      this.v[i].set(s.v[i]);
    });
    this.step = s.step;
  }
}

export class SGD {
  private readonly velocity: Float32Array[] | null;

  constructor(readonly params: Tensor[], public lr: number, readonly momentum = 0) {
    this.velocity = momentum > 0 ? params.map((p) => new Float32Array(p.size)) : null;
  }

  update(): void {
    this.params.forEach((p, i) => {
      const g = p.grad;
      if (!g) return;
      const k = kernelsFor(p.data);
      if (this.velocity) {
        const v = this.velocity[i];
        k.scale(v, v.length, this.momentum);
        k.axpy(v.length, 1, g, 0, v, 0);
        k.axpy(p.size, -this.lr, v, 0, p.data, 0);
      } else {
        k.axpy(p.size, -this.lr, g, 0, p.data, 0);
      }
      p.zeroGrad();
    });
  }
}

/** Scales gradients so their global L2 norm is at most maxNorm; returns the norm before. */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  const grads = params.flatMap((p) => (p.grad ? [p.grad] : []));
  // A float64 gradient anywhere sends the sum to the js set (the native one is float32-only).
  const k = kernelsFor(grads.find((g) => g instanceof Float64Array) ?? grads[0] ?? new Float32Array(0));
  const norm = grads.length ? Math.sqrt(k.sumSquaresMany(grads)) : 0;
  if (norm > maxNorm && norm > 0) {
    const c = maxNorm / norm;
    for (const p of params) if (p.grad) kernelsFor(p.grad).scale(p.grad, p.size, c);
  }
  return norm;
}

/** Largest |gradient| entry over tensors (the mining loop's convergence test). */
export function maxAbsGrad(params: Tensor[]): number {
  let m = 0;
  for (const p of params) if (p.grad) m = Math.max(m, kernelsFor(p.grad).maxAbs(p.grad, p.size));
  return m;
}

/**
 * Loss terms the engine has no op for, each returned as a value plus the
 * gradient with respect to an engine tensor; the trainer seeds them into
 * the same backward pass as the engine-built terms (backwardMany).
 *   pairwise distance (BToP): mean_r ‖h_r − p_r‖₂
 *   Wasserstein (adaptive attack, paper appendix M): the 1-D Wasserstein-1
 *     distance, per hidden dimension, between the batch distribution of
 *     exp(h) over triggered rows and that of exp(clean features), averaged
 *     over dimensions. exp() makes the features positive as the paper
 *     does; per-dimension 1-D distances (sorted values matched by quantile)
 *     are exact for each marginal and need no transport solver. The clean
 *     side is a constant: the attacker moves backdoor features towards clean
 *     ones, not the reverse.
 */
import type { Tensor } from '../engine/index.js';

export interface SeededTerm {
  value: number;
  /** d(coeff · value)/d(output). */
  grad: Float32Array;
  output: Tensor;
}

/** coeff · mean over rows of the L2 distance between h [n, H] and targets (n·H flat). */
export function pairwiseDistance(h: Tensor, targets: Float32Array, coeff: number): SeededTerm {
  const [n, H] = h.shape;
  const x = h.data;
  const grad = new Float32Array(n * H);
  let total = 0;
  for (let r = 0; r < n; r++) {
    let sq = 0;
    for (let i = 0; i < H; i++) {
      const d = x[r * H + i] - targets[r * H + i];
      sq += d * d;
    }
    const dist = Math.sqrt(sq);
    total += dist;
    if (dist > 1e-12) {
      const c = coeff / (n * dist);
      for (let i = 0; i < H; i++) grad[r * H + i] = c * (x[r * H + i] - targets[r * H + i]);
    }
  }
  return { value: total / n, grad, output: h };
}

/**
 * coeff · (1/H) Σ_j W1(exp(h[:, j]), exp(clean[:, j])). h: [n, H];
 * clean: m·H flat (m rows). With n ≠ m the i-th smallest of n is matched
 * to the clean quantile (i + ½)/n.
 */
export function wassersteinExp(h: Tensor, clean: Float32Array, m: number, coeff: number): SeededTerm {
  const [n, H] = h.shape;
  const x = h.data;
  const grad = new Float32Array(n * H);
  if (n === 0 || m === 0) return { value: 0, grad, output: h };
  const order = new Array<number>(n);
  const a = new Float64Array(n);
  const b = new Float64Array(m);
  let total = 0;
  for (let j = 0; j < H; j++) {
    for (let r = 0; r < n; r++) {
      a[r] = Math.exp(x[r * H + j]);
      order[r] = r;
    }
    order.sort((p, q) => a[p] - a[q]);
    for (let r = 0; r < m; r++) b[r] = Math.exp(clean[r * H + j]);
    b.sort();
    let w = 0;
    for (let i = 0; i < n; i++) {
      const r = order[i];
      const d = a[r] - b[Math.min(m - 1, Math.floor(((i + 0.5) * m) / n))];
      w += Math.abs(d);
      // d|a − b|/dh = sign(a − b) · exp(h).
      grad[r * H + j] = (coeff * Math.sign(d) * a[r]) / (n * H);
    }
    total += w / n;
  }
  return { value: total / H, grad, output: h };
}

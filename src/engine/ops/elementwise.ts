/** Elementwise arithmetic on equal shapes, scaling (whole tensor or per row), and dropout. */
import { assertSameDtype, Tensor } from '../tensor.js';
import { accumulateGrad, fail, finish, kernelsOf } from './common.js';

function sameShape(a: Tensor, b: Tensor): boolean {
  return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}

/** a + b (residual connections, embedding sums). */
export function add(a: Tensor, b: Tensor): Tensor {
  if (!sameShape(a, b)) fail('add', 'shapes must match', a, b);
  const dtype = assertSameDtype('add', a, b);
  const k = kernelsOf(a);
  const y = Tensor.output(a.shape, dtype, [a, b]);
  k.add(y.data, a.data, b.data, a.size);
  return finish('add', y, (dy) => {
    if (a.requiresGrad) accumulateGrad(k, a, dy);
    if (b.requiresGrad) accumulateGrad(k, b, dy);
  });
}

/** alpha · x. */
export function scale(x: Tensor, alpha: number): Tensor {
  const k = kernelsOf(x);
  const y = Tensor.output(x.shape, x.dtype, [x]);
  y.data.set(x.data);
  k.scale(y.data, y.size, alpha);
  return finish('scale', y, (dy) => k.axpy(x.size, alpha, dy, 0, x.ensureGrad(), 0));
}

/** Inverted dropout with a seeded mask; identity when p = 0. */
export function dropout(x: Tensor, p: number, seed: number): Tensor {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  if (p === 0) return x;
  const k = kernelsOf(x);
  const keep = new Uint8Array(x.size);
  const y = Tensor.output(x.shape, x.dtype, [x]);
  k.dropoutForward(y.data, keep, x.data, x.size, p, seed);
  return finish('dropout', y, (dy) => k.dropoutBackward(x.ensureGrad(), dy, keep, x.size, p));
}

/**
 * Row r of x [..., C] times the constant s[r] (R = x.size / C entries).
 * DeBERTa multiplies its embedding output by the 0/1 attention mask, so a
 * padded position enters the encoder as zeros. Backward: dx[r, :] += s[r] · dy[r, :].
 */
export function scaleRows(x: Tensor, s: ArrayLike<number>): Tensor {
  const C = x.shape[x.shape.length - 1] ?? 1;
  const R = C === 0 ? 0 : x.size / C;
  if (s.length !== R) fail('scaleRows', `needs one factor per row (${R}), got ${s.length}`, x);
  const k = kernelsOf(x);
  const y = Tensor.output(x.shape, x.dtype, [x]);
  for (let r = 0; r < R; r++) {
    const f = s[r];
    for (let c = r * C; c < (r + 1) * C; c++) y.data[c] = f * x.data[c];
  }
  return finish('scaleRows', y, (dy) => {
    const g = x.ensureGrad();
    for (let r = 0; r < R; r++) if (s[r] !== 0) k.axpy(C, s[r], dy, r * C, g, r * C);
  });
}

/**
 * x + b with b broadcast over the rows of x [..., C] (b has C entries, any
 * shape: XLNet's per-head biases are [n_head, d_head]). Backward: dx += dy,
 * db += Σ_rows dy. XLNet adds three such biases to one query projection.
 */
export function addBias(x: Tensor, b: Tensor): Tensor {
  const C = x.shape[x.shape.length - 1] ?? 1;
  if (b.size !== C) fail('addBias', `bias must have ${C} entries (the last axis of x), got ${b.size}`, x, b);
  const dtype = assertSameDtype('addBias', x, b);
  const R = C === 0 ? 0 : x.size / C;
  const k = kernelsOf(x);
  const y = Tensor.output(x.shape, dtype, [x, b]);
  k.biasAdd(y.data, x.data, b.data, R, C);
  return finish('addBias', y, (dy) => {
    if (x.requiresGrad) accumulateGrad(k, x, dy);
    if (b.requiresGrad) k.biasBackward(b.ensureGrad(), dy, R, C);
  });
}

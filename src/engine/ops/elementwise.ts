/** Elementwise arithmetic on equal shapes, scaling, and dropout. */
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

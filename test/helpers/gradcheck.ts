/**
 * Finite-difference gradient checking in float64 on the js kernels.
 * f builds a computation from the given input tensors and returns any
 * tensor; the check contracts it with a fixed random probe R (loss =
 * Σ out·R) and compares d loss / d input from the tape with central
 * differences.
 */
import assert from 'node:assert/strict';
import { backward, Tensor, withScope } from '../../src/engine/index.js';
import { mulberry } from './random.js';

export function randTensor(shape: number[], seed: number, opts: { scale?: number; requiresGrad?: boolean; offset?: number } = {}): Tensor {
  const rnd = mulberry(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const vals = Array.from({ length: n }, () => (opts.offset ?? 0) + (rnd() * 2 - 1) * (opts.scale ?? 1));
  return Tensor.from(vals, shape, { dtype: 'f64', requiresGrad: opts.requiresGrad ?? true });
}

export function gradcheck(
  name: string,
  inputs: Tensor[],
  f: (...xs: Tensor[]) => Tensor,
  opts: { eps?: number; rtol?: number; atol?: number; seed?: number } = {},
): void {
  const eps = opts.eps ?? 1e-6;
  const rtol = opts.rtol ?? 1e-5;
  const atol = opts.atol ?? 1e-8;
  let probe: Float64Array | null = null;
  const lossOf = (): number =>
    withScope(() => {
      const out = f(...inputs);
      if (!probe) {
        const rnd = mulberry(opts.seed ?? 99);
        probe = Float64Array.from({ length: out.size }, () => rnd() * 2 - 1);
      }
      let s = 0;
      for (let i = 0; i < out.size; i++) s += out.data[i] * probe[i];
      return s;
    });
  lossOf();
  for (const x of inputs) x.grad = null;
  withScope(() => {
    const out = f(...inputs);
    backward(out, probe!);
  });
  for (const [which, x] of inputs.entries()) {
    if (!x.requiresGrad) continue;
    assert.ok(x.grad, `${name}: input ${which} received no gradient`);
    const analytic = Float64Array.from(x.grad!);
    for (let i = 0; i < x.size; i++) {
      const saved = x.data[i];
      x.data[i] = saved + eps;
      const up = lossOf();
      x.data[i] = saved - eps;
      const down = lossOf();
      x.data[i] = saved;
      const numeric = (up - down) / (2 * eps);
      const err = Math.abs(numeric - analytic[i]);
      const tol = atol + rtol * Math.max(Math.abs(numeric), Math.abs(analytic[i]));
      assert.ok(err <= tol, `${name}: d/d input${which}[${i}] analytic ${analytic[i]} vs numeric ${numeric} (|err| ${err} > ${tol})`);
    }
    x.grad = null;
  }
}

/**
 * layerNorm over the last axis. x: [..., C], weight/bias: [C].
 * Saves mean and rstd per row (R = rows) for the backward.
 */
import { assertSameDtype, Tensor } from '../tensor.js';
import { fail, finish, kernelsOf, lastDim } from './common.js';

export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  const op = 'layerNorm';
  const C = lastDim(x);
  if (weight.size !== C || bias.size !== C) fail(op, `weight and bias must be [${C}]`, x, weight, bias);
  const dtype = assertSameDtype(op, x, weight, bias);
  const R = C === 0 ? 0 : x.size / C;
  const k = kernelsOf(x);
  const y = Tensor.output(x.shape, dtype, [x, weight, bias]);
  // Scope-tracked like every activation, so the saved statistics return to the pool.
  const mean = Tensor.output([R], dtype, []).data;
  const rstd = Tensor.output([R], dtype, []).data;
  k.layerNormForward(y.data, mean, rstd, x.data, weight.data, bias.data, R, C, eps);
  return finish(op, y, (dy) => {
    k.layerNormBackward(
      x.requiresGrad ? x.ensureGrad() : null,
      weight.requiresGrad ? weight.ensureGrad() : null,
      bias.requiresGrad ? bias.ensureGrad() : null,
      dy, x.data, weight.data, mean, rstd, R, C,
    );
  });
}
